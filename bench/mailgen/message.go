package main

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"time"
)

type person struct {
	name, addr string
}

func (p person) appendTo(dst []byte) []byte {
	if p.name == "" {
		return append(append(append(dst, '<'), p.addr...), '>')
	}
	dst = append(dst, p.name...)
	dst = append(dst, " <"...)
	dst = append(dst, p.addr...)
	return append(dst, '>')
}

// message is one piece of mail. Everything not stored here (queue ids,
// signatures, body text, MIME boundaries) is drawn from generators seeded by
// seed, so rendering the same message twice gives the same bytes.
type message struct {
	seed     uint64
	date     int64 // unix seconds, when the server received it
	from     person
	fromUser int // index of the local sender, or -1 for mail from outside
	to       []person
	list     string // local list address the message was sent to, if any
	subject  string
	msgID    string
	bodyLen  int
	html     bool // text/plain and text/html alternatives
	atts     []*attachment
	reply    *message // quoted at the end of the body
	fwd      *message // forwarded as a message/rfc822 part, as fwdRcpt received it
	fwdRcpt  int
	fwdRaw   []byte // forwarded message bytes read from disk (mutate)
}

func (m *message) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(m.seed, stream))
}

func rfc5322(unix int64) string {
	return time.Unix(unix, 0).UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700")
}

// body appends the plain text the author wrote: new text, a signature, and
// the quoted message it replies to.
func (m *message) body(dst []byte) []byte {
	r := m.rng(2)
	greet := []string{"Hi", "Hello", "Dear", "Hey"}[r.IntN(4)]
	dst = append(dst, greet...)
	dst = append(dst, ' ')
	if len(m.to) > 0 && m.to[0].name != "" {
		dst = append(dst, firstWord(m.to[0].name)...)
	} else {
		dst = append(dst, "all"...)
	}
	dst = append(dst, ",\n\n"...)
	dst = text(dst, r, m.bodyLen)
	dst = append(dst, "-- \n"...)
	dst = append(dst, m.from.name...)
	dst = append(dst, '\n')
	if m.reply != nil {
		dst = append(dst, "\nOn "...)
		dst = append(dst, rfc5322(m.reply.date)...)
		dst = append(dst, ", "...)
		dst = m.reply.from.appendTo(dst)
		dst = append(dst, " wrote:\n"...)
		quoted := m.reply.body(nil)
		lines := 0
		for len(quoted) > 0 && lines < 60 {
			line := quoted
			if i := bytes.IndexByte(quoted, '\n'); i >= 0 {
				line, quoted = quoted[:i], quoted[i+1:]
			} else {
				quoted = nil
			}
			if len(line) == 0 || line[0] == '>' {
				dst = append(dst, '>')
			} else {
				dst = append(dst, "> "...)
			}
			dst = append(dst, line...)
			dst = append(dst, '\n')
			lines++
		}
	}
	return dst
}

func firstWord(s string) string {
	if i := bytes.IndexByte([]byte(s), ' '); i > 0 {
		return s[:i]
	}
	return s
}

// render appends the message as delivered to local user rcpt (with the
// receiving server's Received line and Delivered-To), or as the sender's
// Sent copy when rcpt is -1.
func (w *world) render(dst []byte, m *message, rcpt int) []byte {
	h := m.rng(1)
	if rcpt >= 0 {
		rr := m.rng(uint64(3 + rcpt))
		u := w.users[rcpt]
		dst = append(dst, "Return-Path: <"...)
		dst = append(dst, m.from.addr...)
		dst = append(dst, ">\nDelivered-To: "...)
		dst = append(dst, u.name...)
		dst = append(dst, '@')
		dst = append(dst, w.domain...)
		dst = append(dst, '\n')
		if m.list != "" {
			dst = append(dst, "X-Original-To: "...)
			dst = append(dst, m.list...)
			dst = append(dst, '\n')
		}
		dst = append(dst, "Received: by "...)
		dst = append(dst, w.host...)
		dst = append(dst, " (Postfix, from userid 0)\n\tid "...)
		dst = alnumID(dst, rr, 15)
		dst = append(dst, "; "...)
		dst = append(dst, rfc5322(m.date+1)...)
		dst = append(dst, " (UTC)\n"...)
	}
	if m.fromUser >= 0 {
		dst = append(dst, "Received: from [192.168."...)
		dst = strconv.AppendInt(dst, int64(h.IntN(256)), 10)
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(2+h.IntN(250)), 10)
		dst = append(dst, "] (unknown ["...)
		dst = ipv4(dst, h)
		dst = append(dst, "])\n\t(Authenticated sender: "...)
		dst = append(dst, w.users[m.fromUser].name...)
		dst = append(dst, ")\n\tby "...)
		dst = append(dst, w.host...)
		dst = append(dst, " (Postfix) with ESMTPSA id "...)
		dst = alnumID(dst, h, 15)
		dst = append(dst, ";\n\t"...)
		dst = append(dst, rfc5322(m.date)...)
		dst = append(dst, " (UTC)\n"...)
	} else {
		relay := []byte("mail-")
		relay = alnumID(relay, h, 4)
		relay = append(relay, '-')
		relay = alnumID(relay, h, 3)
		relay = append(relay, '.')
		relay = append(relay, domainOf(m.from.addr)...)
		dst = append(dst, "Received: from "...)
		dst = append(dst, relay...)
		dst = append(dst, " ("...)
		dst = append(dst, relay...)
		dst = append(dst, " ["...)
		dst = ipv4(dst, h)
		dst = append(dst, "])\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n\t(No client certificate requested)\n\tby "...)
		dst = append(dst, w.host...)
		dst = append(dst, " (Postfix) with ESMTPS id "...)
		dst = alnumID(dst, h, 15)
		dst = append(dst, ";\n\t"...)
		dst = append(dst, rfc5322(m.date)...)
		dst = append(dst, " (UTC)\nReceived: by "...)
		dst = append(dst, relay...)
		dst = append(dst, " with SMTP id "...)
		dst = alnumID(dst, h, 22)
		dst = append(dst, ";\n\t"...)
		dst = append(dst, rfc5322(m.date-int64(1+h.IntN(5)))...)
		dst = append(dst, '\n')
	}
	// DKIM: the signature bytes are incompressible, as real ones are.
	dst = append(dst, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n\td="...)
	dst = append(dst, domainOf(m.from.addr)...)
	dst = append(dst, "; s=20230601; t="...)
	dst = strconv.AppendInt(dst, m.date, 10)
	dst = append(dst, "; x="...)
	dst = strconv.AppendInt(dst, m.date+604800, 10)
	dst = append(dst, ";\n\th=to:subject:message-id:date:from:mime-version:from:to:cc:subject\n\t :date:message-id:reply-to;\n\tbh="...)
	dst = b64Chars(dst, h, 43)
	dst = append(dst, "=;\n\tb="...)
	for i := 0; i < 5; i++ {
		if i > 0 {
			dst = append(dst, "\n\t "...)
		}
		dst = b64Chars(dst, h, 68)
	}
	dst = append(dst, "==\nMIME-Version: 1.0\nDate: "...)
	dst = append(dst, rfc5322(m.date-int64(h.IntN(30)))...)
	dst = append(dst, "\nMessage-ID: "...)
	dst = append(dst, m.msgID...)
	if m.reply != nil {
		dst = append(dst, "\nIn-Reply-To: "...)
		dst = append(dst, m.reply.msgID...)
		dst = append(dst, "\nReferences: "...)
		dst = append(dst, m.reply.msgID...)
	}
	dst = append(dst, "\nFrom: "...)
	dst = m.from.appendTo(dst)
	dst = append(dst, "\nTo: "...)
	for i, p := range m.to {
		if i > 0 {
			dst = append(dst, ",\n\t"...)
		}
		dst = p.appendTo(dst)
	}
	dst = append(dst, "\nSubject: "...)
	dst = append(dst, m.subject...)
	dst = append(dst, '\n')
	if rcpt >= 0 && m.fromUser < 0 {
		dst = append(dst, "X-Spam-Status: No, score="...)
		dst = strconv.AppendFloat(dst, h.Float64()*3-1, 'f', 1, 64)
		dst = append(dst, " required=5.0 tests=DKIM_SIGNED,DKIM_VALID,\n\tDKIM_VALID_AU,RCVD_IN_DNSWL_NONE,SPF_HELO_NONE,SPF_PASS\n\tautolearn=ham autolearn_force=no version=3.4.6\n"...)
	}

	plain := m.body(nil)
	multipart := len(m.atts) > 0 || m.fwd != nil || m.fwdRaw != nil
	if !multipart && !m.html {
		dst = append(dst, "Content-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: 7bit\n\n"...)
		return append(dst, plain...)
	}
	outer := boundary(h)
	inner := boundary(h)
	if multipart {
		dst = append(dst, "Content-Type: multipart/mixed; boundary=\""...)
		dst = append(dst, outer...)
		dst = append(dst, "\"\n\n--"...)
		dst = append(dst, outer...)
		dst = append(dst, '\n')
	}
	if m.html {
		dst = append(dst, "Content-Type: multipart/alternative; boundary=\""...)
		dst = append(dst, inner...)
		dst = append(dst, "\"\n\n--"...)
		dst = append(dst, inner...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "Content-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: 7bit\n\n"...)
	dst = append(dst, plain...)
	if m.html {
		dst = append(dst, "\n--"...)
		dst = append(dst, inner...)
		dst = append(dst, "\nContent-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: 7bit\n\n<div dir=\"ltr\">"...)
		for _, para := range bytes.Split(plain, []byte("\n\n")) {
			if len(para) == 0 {
				continue
			}
			dst = append(dst, "<div>"...)
			dst = append(dst, bytes.ReplaceAll(para, []byte("\n"), []byte("<br>\n"))...)
			dst = append(dst, "</div><div><br></div>\n"...)
		}
		dst = append(dst, "</div>\n\n--"...)
		dst = append(dst, inner...)
		dst = append(dst, "--\n"...)
	}
	for _, a := range m.atts {
		k := attKinds[a.kind]
		dst = append(dst, "\n--"...)
		dst = append(dst, outer...)
		dst = append(dst, "\nContent-Type: "...)
		dst = append(dst, k.ctype...)
		dst = append(dst, "; name=\""...)
		dst = append(dst, a.name...)
		dst = append(dst, "\"\nContent-Disposition: attachment; filename=\""...)
		dst = append(dst, a.name...)
		dst = append(dst, "\"\nContent-Transfer-Encoding: base64\nContent-ID: <f_"...)
		dst = alnumID(dst, h, 9)
		dst = append(dst, ">\n\n"...)
		dst = appendBase64Lines(dst, a.content())
	}
	if m.fwd != nil || m.fwdRaw != nil {
		dst = append(dst, "\n--"...)
		dst = append(dst, outer...)
		dst = append(dst, "\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n"...)
		if m.fwdRaw != nil {
			dst = append(dst, m.fwdRaw...)
		} else {
			dst = w.render(dst, m.fwd, m.fwdRcpt)
		}
	}
	if multipart {
		dst = append(dst, "\n--"...)
		dst = append(dst, outer...)
		dst = append(dst, "--\n"...)
	}
	return dst
}

func boundary(r *rand.Rand) []byte {
	return hexID([]byte("000000000000"), r, 16)
}

func domainOf(addr string) string {
	if i := bytes.LastIndexByte([]byte(addr), '@'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}
