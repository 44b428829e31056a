package notify

import (
	"strings"
	"testing"

	"customerservice/db"
)

// TestRenderEmailTemplates: the mails of sessions and verified email say
// what they are for and carry their token, and the change notice none.
func TestRenderEmailTemplates(t *testing.T) {
	for _, c := range []struct {
		template string
		data     db.JSONObject
		want     []string
		not      string
	}{
		{"email_verification", db.JSONObject{"token": "tok-1"}, []string{"Confirm your email", "tok-1", "24 hours"}, ""},
		{"email_change", db.JSONObject{"token": "tok-2"}, []string{"Confirm your new email", "tok-2", "within the hour"}, ""},
		{"email_changed", db.JSONObject{"new_email": "n***@e***.com", "changed_at": "2026-01-01T00:00:00Z"},
			[]string{"Your email was changed", "n***@e***.com", "ann@example.com"}, "token"},
	} {
		m := render(&db.Notification{Recipient: "ann@example.com", Template: c.template, Data: c.data})
		text := m.Subject + "\n" + m.Body
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q lacks %q", c.template, text, w)
			}
		}
		if c.not != "" && strings.Contains(text, c.not) {
			t.Errorf("%s: %q holds %q", c.template, text, c.not)
		}
	}
}
