package main

import (
	"math/rand/v2"
	"strings"
)

// delivery is one copy of a message in one mailbox.
type delivery struct {
	m      *message
	rcpt   int    // receiving user, or -1 for the sender's Sent copy
	folder string // Maildir++ folder ("" is INBOX); ignored for mbox users
	flags  string // Maildir info flags for messages in cur/
	isNew  bool   // in new/: not yet seen by a mail client
	seq    int    // position in the owner's deliveries; makes file names unique
}

// planner draws messages and decides who gets a copy of each, until the
// estimated bytes on disk reach a budget.
type planner struct {
	w          *world
	r          *rand.Rand
	start, end int64 // delivery dates are drawn from [start, end)
	recent     int64 // INBOX deliveries after this may still be unread in new/
	day        bool  // one simulated day: every delivery is new
	maxAtt     int
	msgs       []*message
	withAtt    []*message // forwarding candidates
	pool       []*attachment
	box        [][]delivery // per user, the user's own deliveries and Sent copies
	spent      int64
}

func newPlanner(w *world, r *rand.Rand, start, end int64, maxAtt int) *planner {
	return &planner{w: w, r: r, start: start, end: end, recent: end - 2*86400, maxAtt: maxAtt, box: make([][]delivery, len(w.users))}
}

// perDeliveryOverhead approximates the dovecot index, cache, log and
// uidlist bytes each message adds.
const perDeliveryOverhead = 500

func (p *planner) subject() string {
	b := appendWords(nil, p.r, 2+p.r.IntN(6))
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}

func (p *planner) messageID(from string) string {
	b := []byte("<")
	b = alnumID(b, p.r, 24)
	b = append(b, '@')
	b = append(b, domainOf(from)...)
	return string(append(b, '>'))
}

func (p *planner) attachments(m *message, prob float64) {
	if p.r.Float64() >= prob {
		return
	}
	n := 1
	if p.r.IntN(5) == 0 {
		n = 2 + p.r.IntN(2)
	}
	for i := 0; i < n; i++ {
		var a *attachment
		if len(p.pool) > 0 && p.r.IntN(100) < 35 {
			a = p.pool[p.r.IntN(len(p.pool))]
		} else {
			a = newAttachment(p.r, p.maxAtt)
			if len(p.pool) < 2000 {
				p.pool = append(p.pool, a)
			} else {
				p.pool[p.r.IntN(len(p.pool))] = a
			}
		}
		m.atts = append(m.atts, a)
	}
}

// est approximates the rendered size of m.
func est(m *message) int64 {
	n := int64(2400 + m.bodyLen)
	if m.html {
		n += int64(m.bodyLen) * 13 / 10
	}
	if m.reply != nil {
		n += int64(min(m.reply.bodyLen, 60*72))
	}
	for _, a := range m.atts {
		n += int64(a.size)*4/3 + int64(a.size)/57 + 300
	}
	if m.fwd != nil {
		n += est(m.fwd)
	}
	return n + int64(len(m.fwdRaw))
}

// step plans one message and its deliveries.
func (p *planner) step() {
	w, r := p.w, p.r
	m := &message{
		seed:     r.Uint64(),
		date:     p.start + r.Int64N(p.end-p.start),
		fromUser: -1,
		bodyLen:  logNormal(r, 1200, 1.0, 60, 160<<10),
		html:     r.IntN(10) < 4,
	}
	var rcpts []int
	sentCopy := false
	kind := r.Float64()
	switch {
	case kind < 0.12 && len(w.lists) > 0:
		l := w.lists[r.IntN(len(w.lists))]
		if r.IntN(2) == 0 {
			m.fromUser = l.subs[r.IntN(len(l.subs))]
			m.from = w.users[m.fromUser].person(w.domain)
		} else {
			m.from = w.contact(r)
		}
		m.list = l.name + "@" + w.domain
		m.to = []person{{addr: m.list}}
		m.subject = "[" + l.name + "] " + p.subject()
		rcpts = l.subs
		p.attachments(m, 0.05)
	case kind < 0.30:
		m.fromUser = w.pickUser(r)
		m.from = w.users[m.fromUser].person(w.domain)
		n := 1
		if r.IntN(7) == 0 {
			n = 2 + r.IntN(min(19, len(w.users)))
		}
		for i := 0; i < n; i++ {
			u := w.pickUser(r)
			if u != m.fromUser && !containsInt(rcpts, u) {
				rcpts = append(rcpts, u)
				m.to = append(m.to, w.users[u].person(w.domain))
			}
		}
		sentCopy = true
		m.subject = p.subject()
		p.attachments(m, 0.22)
	case kind < 0.40:
		m.fromUser = w.pickUser(r)
		m.from = w.users[m.fromUser].person(w.domain)
		m.to = []person{w.contact(r)}
		sentCopy = true
		m.subject = p.subject()
		p.attachments(m, 0.2)
	default:
		m.from = w.contact(r)
		n := 1
		if r.IntN(10) == 0 {
			n = 2 + r.IntN(min(9, len(w.users)))
		}
		for i := 0; i < n; i++ {
			u := w.pickUser(r)
			if !containsInt(rcpts, u) {
				rcpts = append(rcpts, u)
				m.to = append(m.to, w.users[u].person(w.domain))
			}
		}
		m.subject = p.subject()
		p.attachments(m, 0.2)
	}
	if len(p.msgs) > 0 && r.IntN(10) < 3 && m.list == "" {
		m.reply = p.msgs[len(p.msgs)-1-r.IntN(min(len(p.msgs), 300))]
		m.subject = "Re: " + strings.TrimPrefix(m.reply.subject, "Re: ")
		m.date = max(m.date, min(m.reply.date+600+r.Int64N(3*86400), p.end-1))
	} else if len(p.withAtt) > 0 && r.IntN(100) < 4 && m.list == "" {
		m.fwd = p.withAtt[r.IntN(len(p.withAtt))]
		m.fwdRcpt = -1
		if len(m.fwd.to) > 0 {
			m.fwdRcpt = p.localRcpt(m.fwd)
		}
		m.subject = "Fwd: " + m.fwd.subject
		m.date = max(m.date, min(m.fwd.date+600+r.Int64N(7*86400), p.end-1))
	}
	m.msgID = p.messageID(m.from.addr)
	p.msgs = append(p.msgs, m)
	if len(m.atts) > 0 && m.fwd == nil {
		p.withAtt = append(p.withAtt, m)
	}
	p.deliver(m, rcpts, sentCopy)
}

// localRcpt returns a local user who received m, or -1 (m then renders
// as its Sent copy).
func (p *planner) localRcpt(m *message) int {
	for _, to := range m.to {
		for i := range p.w.users {
			if to.addr == p.w.users[i].name+"@"+p.w.domain {
				return i
			}
		}
	}
	return -1
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (p *planner) deliver(m *message, rcpts []int, sentCopy bool) {
	size := est(m) + perDeliveryOverhead
	for _, u := range rcpts {
		d := delivery{m: m, rcpt: u, seq: len(p.box[u])}
		switch {
		case m.list != "":
			d.folder = ".INBOX.lists"
		case p.day:
		case m.date < p.end-365*86400 && p.r.IntN(10) < 3:
			d.folder = ".Archive"
		case p.r.IntN(100) < 3:
			d.folder = ".Trash"
		}
		if p.day || (m.date >= p.recent && d.folder == "" && p.r.IntN(10) < 7) {
			d.isNew = true
		} else {
			d.flags = pickFlags(p.r)
			if d.folder == ".Trash" {
				d.flags = "S"
			}
		}
		p.box[u] = append(p.box[u], d)
		p.spent += size
	}
	if sentCopy && m.fromUser >= 0 {
		u := m.fromUser
		p.box[u] = append(p.box[u], delivery{m: m, rcpt: -1, folder: ".Sent", flags: "S", seq: len(p.box[u])})
		p.spent += size
	}
}

func pickFlags(r *rand.Rand) string {
	switch n := r.IntN(100); {
	case n < 80:
		return "S"
	case n < 88:
		return "RS"
	case n < 91:
		return "FS"
	case n < 93:
		return "FRS"
	}
	return ""
}
