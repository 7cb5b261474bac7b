package main

import (
	"math"
	"math/rand/v2"
	"strconv"
)

var words = []string{
	"the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on",
	"are", "with", "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or",
	"had", "by", "not", "but", "what", "some", "we", "can", "out", "other", "were", "all",
	"there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which", "do",
	"their", "time", "if", "will", "way", "about", "many", "then", "them", "would", "write",
	"like", "so", "these", "her", "long", "make", "thing", "see", "him", "two", "has", "look",
	"more", "day", "could", "go", "come", "did", "number", "sound", "no", "most", "people",
	"my", "over", "know", "water", "than", "call", "first", "who", "may", "down", "side",
	"been", "now", "find", "any", "new", "work", "part", "take", "get", "place", "made",
	"live", "where", "after", "back", "little", "only", "round", "year", "came", "show",
	"every", "good", "give", "our", "under", "name", "very", "through", "just", "form",
	"sentence", "great", "think", "say", "help", "low", "line", "differ", "turn", "cause",
	"much", "mean", "before", "move", "right", "boy", "old", "too", "same", "tell", "does",
	"set", "three", "want", "air", "well", "also", "play", "small", "end", "put", "home",
	"read", "hand", "port", "large", "spell", "add", "even", "land", "here", "must", "big",
	"high", "such", "follow", "act", "why", "ask", "men", "change", "went", "light", "kind",
	"off", "need", "house", "picture", "try", "us", "again", "animal", "point", "mother",
	"world", "near", "build", "self", "earth", "father", "head", "stand", "own", "page",
	"should", "country", "found", "answer", "school", "grow", "study", "still", "learn",
	"plant", "cover", "food", "sun", "four", "between", "state", "keep", "eye", "never",
	"last", "let", "thought", "city", "tree", "cross", "farm", "hard", "start", "might",
	"story", "saw", "far", "sea", "draw", "left", "late", "run", "while", "press", "close",
	"night", "real", "life", "few", "north", "open", "seem", "together", "next", "white",
	"children", "begin", "got", "walk", "example", "ease", "paper", "group", "always",
	"music", "those", "both", "mark", "often", "letter", "until", "mile", "river", "car",
	"feet", "care", "second", "book", "carry", "took", "science", "eat", "room", "friend",
	"began", "idea", "fish", "mountain", "stop", "once", "base", "hear", "horse", "cut",
	"sure", "watch", "color", "face", "wood", "main", "enough", "plain", "girl", "usual",
	"young", "ready", "above", "ever", "red", "list", "though", "feel", "talk", "bird",
	"soon", "body", "dog", "family", "direct", "pose", "leave", "song", "measure", "door",
	"product", "black", "short", "numeral", "class", "wind", "question", "happen",
	"complete", "ship", "area", "half", "rock", "order", "fire", "south", "problem",
	"piece", "told", "knew", "pass", "since", "top", "whole", "king", "space", "heard",
	"best", "hour", "better", "true", "during", "hundred", "five", "remember", "step",
	"early", "hold", "west", "ground", "interest", "reach", "fast", "verb", "sing",
	"listen", "six", "table", "travel", "less", "morning", "ten", "simple", "several",
	"vowel", "toward", "war", "lay", "against", "pattern", "slow", "center", "love",
	"person", "money", "serve", "appear", "road", "map", "rain", "rule", "govern", "pull",
	"cold", "notice", "voice", "unit", "power", "town", "fine", "certain", "fly", "fall",
	"lead", "cry", "dark", "machine", "note", "wait", "plan", "figure", "star", "box",
	"noun", "field", "rest", "correct", "able", "pound", "done", "beauty", "drive",
	"server", "backup", "invoice", "meeting", "schedule", "report", "budget", "deadline",
	"contract", "client", "project", "review", "draft", "update", "release", "ticket",
	"account", "password", "mailbox", "quota", "disk", "upgrade", "migration", "weekend",
	"Monday", "Tuesday", "Friday", "January", "March", "September", "office", "team",
}

// sentenceStarts are capitalised openers; some begin with "From " so that mbox
// spools need ">From " quoting, as real mail does.
var sentenceStarts = []string{
	"The", "We", "I", "Please", "Thanks", "Could", "As", "If", "When", "This", "Our",
	"From what I can tell", "From now on", "From the logs", "Also", "Sorry", "Just",
}

var firstNames = []string{
	"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
	"Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
	"Yvonne", "Zoe", "Liam", "Emma", "Noah", "Mia", "Lucas", "Lea", "Jonas", "Clara",
	"Paul", "Marie", "Hugo", "Ines", "Oscar", "Nora", "Felix", "Ida", "Max", "Ella",
}

var lastNames = []string{
	"Smith", "Johnson", "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard",
	"Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel",
	"Garcia", "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
	"Becker", "Hoffmann", "Rossi", "Russo", "Ferrari", "Novak", "Kowalski", "Nowak",
}

var externalDomains = []string{
	"gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "orange.fr",
	"example.net", "acme-corp.com", "lists.debian.org", "mailbox.org", "posteo.de",
	"fastmail.com", "protonmail.ch", "university.edu", "city-council.gov", "shop.example",
}

// text appends about n bytes of English-like prose wrapped at 72 columns,
// in paragraphs separated by blank lines.
func text(dst []byte, r *rand.Rand, n int) []byte {
	start := len(dst)
	col := 0
	for len(dst)-start < n {
		sentences := 2 + r.IntN(5)
		for s := 0; s < sentences; s++ {
			nw := 5 + r.IntN(14)
			for w := 0; w < nw; w++ {
				var word string
				if w == 0 {
					word = sentenceStarts[r.IntN(len(sentenceStarts))]
				} else {
					word = words[r.IntN(len(words))]
				}
				if col > 0 && col+1+len(word) > 72 {
					dst = append(dst, '\n')
					col = 0
				} else if col > 0 {
					dst = append(dst, ' ')
					col++
				}
				dst = append(dst, word...)
				col += len(word)
				if w == nw-1 {
					if r.IntN(6) == 0 {
						dst = append(dst, '?')
					} else {
						dst = append(dst, '.')
					}
					col++
				} else if r.IntN(12) == 0 {
					dst = append(dst, ',')
					col++
				}
			}
		}
		dst = append(dst, "\n\n"...)
		col = 0
	}
	return dst
}

// words appends n random words separated by spaces.
func appendWords(dst []byte, r *rand.Rand, n int) []byte {
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, words[r.IntN(len(words))]...)
	}
	return dst
}

// hexID appends n random lowercase hex digits.
func hexID(dst []byte, r *rand.Rand, n int) []byte {
	const digits = "0123456789abcdef"
	for i := 0; i < n; i++ {
		dst = append(dst, digits[r.IntN(16)])
	}
	return dst
}

// alnumID appends n random characters from [0-9A-Za-z].
func alnumID(dst []byte, r *rand.Rand, n int) []byte {
	const chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := 0; i < n; i++ {
		dst = append(dst, chars[r.IntN(len(chars))])
	}
	return dst
}

// b64Chars appends n random base64 characters (no padding).
func b64Chars(dst []byte, r *rand.Rand, n int) []byte {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < n; i++ {
		dst = append(dst, chars[r.IntN(64)])
	}
	return dst
}

func ipv4(dst []byte, r *rand.Rand) []byte {
	dst = strconv.AppendInt(dst, int64(1+r.IntN(222)), 10)
	for i := 0; i < 3; i++ {
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
	}
	return dst
}

// logNormal draws from a log-normal distribution with the given median and
// sigma (of the underlying normal), clamped to [lo, hi].
func logNormal(r *rand.Rand, median, sigma float64, lo, hi int) int {
	v := median * math.Exp(sigma*r.NormFloat64())
	switch {
	case v < float64(lo):
		return lo
	case v > float64(hi):
		return hi
	}
	return int(v)
}
