package mailbox

import (
	"strings"
	"time"
)

// Query selects messages by header. A zero field matches every message; a
// message matches when it matches every non-zero field.
//
// From, To and Subject match a case-insensitive substring of the decoded
// field (To looks at the To field only, not Cc). MessageID matches the whole
// Message-ID exactly, with or without its angle brackets. Since and Until
// bound the Date field inclusively; a message without a usable Date never
// matches a query that sets either.
type Query struct {
	From, To, Subject, MessageID string
	Since, Until                 time.Time
}

// Match reports whether h satisfies q.
func (q Query) Match(h Header) bool {
	if !containsFold(h.From, q.From) || !containsFold(h.To, q.To) || !containsFold(h.Subject, q.Subject) {
		return false
	}
	if q.MessageID != "" && trimAngles(q.MessageID) != trimAngles(h.MessageID) {
		return false
	}
	if !q.Since.IsZero() || !q.Until.IsZero() {
		if h.Date.IsZero() {
			return false
		}
		if !q.Since.IsZero() && h.Date.Before(q.Since) {
			return false
		}
		if !q.Until.IsZero() && h.Date.After(q.Until) {
			return false
		}
	}
	return true
}

func containsFold(s, sub string) bool {
	return sub == "" || strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func trimAngles(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	return strings.TrimSuffix(id, ">")
}
