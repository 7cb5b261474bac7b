package main

import "testing"

func TestEscapeTextDefusesControlCharactersAndInvalidBytes(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"open /var/mail/alice: permission denied", "open /var/mail/alice: permission denied"},
		{`a "quoted" name`, `a "quoted" name`},
		{"open /x/a\nb: permission denied", `open /x/a\nb: permission denied`},
		{"open /x/\x1b[2J: no such file", `open /x/\x1b[2J: no such file`},
		{"open /x/\xff\xfe: denied", `open /x/\xff\xfe: denied`},
		{"tab\tand \"quote\"", `tab\tand "quote"`},
	} {
		if got := escapeText(tt.in); got != tt.want {
			t.Errorf("escapeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
