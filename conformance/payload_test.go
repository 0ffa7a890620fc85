package conformance

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"unicode/utf8"
)

// Payloads are generated once and shared by every case (never modified).
var payloads sync.Map

func cached(key string, gen func() []byte) []byte {
	if p, ok := payloads.Load(key); ok {
		return p.([]byte)
	}
	p, _ := payloads.LoadOrStore(key, gen())
	return p.([]byte)
}

// utf8Sample holds 1-, 2-, 3- and 4-byte characters.
const utf8Sample = "Hello-µ@ßöäüàá-UTF-8!! κόσμε ∮ E⋅da = Q 𝄞 🎉 日本語 "

var bigText = sync.OnceValue(func() []byte {
	b := make([]byte, 0, maxMessage+2<<20+len(utf8Sample))
	for len(b) < maxMessage+2<<20 {
		b = append(b, utf8Sample...)
	}
	return b
})

// textOf returns n bytes of valid, mixed-width UTF-8.
func textOf(n int) []byte {
	big := bigText()
	if n == len(big) || utf8.RuneStart(big[n]) {
		return big[:n:n]
	}
	return cached(fmt.Sprint("text", n), func() []byte {
		p := fixTail(append([]byte(nil), big[:n]...))
		if !utf8.Valid(p) {
			panic("textOf produced invalid UTF-8")
		}
		return p
	})
}

// asciiOf returns n bytes of '*', as Autobahn's framing cases send.
func asciiOf(n int) []byte {
	return cached(fmt.Sprint("ascii", n), func() []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = '*'
		}
		return p
	})
}

// binOf returns n bytes of compressible binary: runs of random bytes
// alternating with copies of earlier runs, every byte value present. All
// sizes are prefixes of one buffer.
func binOf(n int) []byte { return bigBin()[:n:n] }

var bigBin = sync.OnceValue(func() []byte {
	const n = maxMessage + 2<<20
	r := rand.New(rand.NewPCG(n, 7))
	p := make([]byte, 0, n+16)
	for len(p) < n {
		if len(p) >= 1024 && r.IntN(2) == 0 {
			from := len(p) - 1 - r.IntN(1024)
			for range 4 + r.IntN(13) {
				p = append(p, p[from])
				from++
			}
			continue
		}
		for range 1 + r.IntN(8) {
			p = append(p, byte(r.Uint32()))
		}
	}
	return p[:n]
})

// randOf returns n incompressible bytes (prefixes of one buffer).
func randOf(n int) []byte { return bigRand()[:n:n] }

var bigRand = sync.OnceValue(func() []byte {
	p := make([]byte, maxMessage+2<<20)
	rand.NewChaCha8([32]byte{9}).Read(p)
	return p
})

// zerosOf returns n zero bytes (valid UTF-8 too).
func zerosOf(n int) []byte { return bigZeros()[:n:n] }

var bigZeros = sync.OnceValue(func() []byte { return make([]byte, maxMessage+2<<20) })

// jsonOf returns n bytes of JSON-like text (compresses like real traffic).
func jsonOf(n int) []byte {
	return cached(fmt.Sprint("json", n), func() []byte {
		r := rand.New(rand.NewPCG(uint64(n), 11))
		words := []string{"alpha", "beta", "gamma", "delta", "épsilon", "ζήτα", "東京", "id", "name", "value", "true", "null"}
		var b []byte
		for len(b) < n {
			b = fmt.Appendf(b, `{"%s":%d,"%s":"%s %s","ok":%v},`, words[r.IntN(len(words))], r.IntN(100000),
				words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(2) == 0)
		}
		b = fixTail(b[:n])
		return b
	})
}

// fixTail replaces a character cut at the end of p with dots.
func fixTail(p []byte) []byte {
	i := len(p) - 1
	for i > 0 && !utf8.RuneStart(p[i]) {
		i--
	}
	if i >= 0 && !utf8.FullRune(p[i:]) {
		for j := i; j < len(p); j++ {
			p[j] = '.'
		}
	}
	return p
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func b(s string) []byte { return []byte(s) }
