package profile

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Error is a problem in a profile file, at a line and (usually) a key.
type Error struct {
	Path string
	Line int
	Key  string // dotted, such as "profiles.mail.retention.keep-daily"; "" for syntax errors
	Msg  string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.Path, e.Line, e.Key, e.Msg)
}

// decode decodes data strictly into doc, turning the TOML library's
// errors into *Error values.
func decode(path string, data []byte, doc *document) error {
	err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(doc)
	if err == nil {
		return nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, de := range strict.Errors {
			line, _ := de.Position()
			errs = append(errs, &Error{Path: path, Line: line, Key: joinKey(de.Key()), Msg: "unknown key"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		return &Error{Path: path, Line: line, Key: joinKey(de.Key()), Msg: decodeMessage(de.Error())}
	}
	// The library reports some type mismatches without a position.
	return &Error{Path: path, Line: 1, Msg: decodeMessage(err.Error())}
}

// joinKey writes a key as it would appear in a table header, quoting
// parts that need it.
func joinKey(k toml.Key) string {
	parts := make([]string, len(k))
	for i, p := range k {
		parts[i] = keyPart(p)
	}
	return strings.Join(parts, ".")
}

func keyPart(p string) string {
	if p == "" || strings.ContainsFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return fmt.Sprintf("%q", p)
	}
	return p
}

var typeMismatch = regexp.MustCompile(`cannot decode TOML (\w+) into (?:struct field \S+ of type )?(\S+)`)

// decodeMessage rewrites the library's type errors in the file's terms:
// "want a string, got an integer".
func decodeMessage(msg string) string {
	msg = strings.TrimPrefix(msg, "toml: ")
	m := typeMismatch.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	return fmt.Sprintf("want %s, got %s", goTypeName(m[2]), tomlTypeName(m[1]))
}

func goTypeName(t string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case t == "string":
		return "a string"
	case t == "int" || strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "bool":
		return "true or false"
	case t == "[]string":
		return "an array of strings"
	case strings.HasPrefix(t, "map[string]") || t == "profile.Env":
		return "a table"
	case strings.HasPrefix(t, "profile.") || strings.HasPrefix(t, "map["):
		return "a table"
	}
	return t
}

func tomlTypeName(t string) string {
	switch t {
	case "integer", "array":
		return "an " + t
	case "":
		return "something else"
	}
	return "a " + t
}

// lineMap maps dotted keys to the line that sets them.
type lineMap map[string]int

// find returns the line of key, or of its nearest ancestor that has one,
// or 1.
func (m lineMap) find(key string) int {
	for {
		if l, ok := m[key]; ok {
			return l
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			return 1
		}
		key = key[:i]
	}
}

// keyLines records the line of every table header and key of a document
// that decoded without error.
func keyLines(data []byte) lineMap {
	m := lineMap{}
	var p unstable.Parser
	p.Reset(data)
	var table string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			it := e.Key()
			table = recordKey(&p, m, "", &it)
		case unstable.KeyValue:
			walkKeyValue(&p, m, table, e)
		}
	}
	return m
}

func walkKeyValue(p *unstable.Parser, m lineMap, prefix string, kv *unstable.Node) {
	it := kv.Key()
	key := recordKey(p, m, prefix, &it)
	if v := kv.Value(); v != nil && v.Kind == unstable.InlineTable {
		children := v.Children()
		for children.Next() {
			if c := children.Node(); c.Kind == unstable.KeyValue {
				walkKeyValue(p, m, key, c)
			}
		}
	}
}

// recordKey joins the key parts of it onto prefix, records the line of
// the first part for every new key along the way, and returns the key.
func recordKey(p *unstable.Parser, m lineMap, prefix string, it *unstable.Iterator) string {
	key := prefix
	for it.Next() {
		n := it.Node()
		part := keyPart(string(n.Data))
		if key == "" {
			key = part
		} else {
			key += "." + part
		}
		if _, ok := m[key]; !ok && n.Raw.Length > 0 {
			m[key] = p.Shape(n.Raw).Start.Line
		}
	}
	return key
}
