package rdb

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParseFloat checks parseFloat against strconv.ParseFloat, bit for
// bit, on what Redis writes for scores ("%.17g" and shortest forms of
// random doubles), on random digit strings with a point anywhere, and on
// forms it leaves to strconv.
func TestParseFloat(t *testing.T) {
	check := func(s string) { checkParseFloat(t, s) }
	for _, s := range []string{"0", "-0", "0.0", "-0.0", "1.", ".5", "-.5", "1e5", "1.5e-3", "inf", "-inf", "nan",
		"+1", "-", "", ".", "00012.5000", "1..2", "1.2.3", "12a", "9007199254740993", "9007199254740993.5",
		"0.30000000000000004", "0.1", "0.2", "1234567890123456789", "12345678901234567890", "1.234567890123456789",
		"0.0000000000000000001", "4503599627370496.5", "4503599627370497.5", "2.2250738585072014", "0.5", "0.25",
		"0.9999999999999999167", "0.4999999999999999584"} { // just below powers of two, nearer the double below
		check(s)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	digits := make([]byte, 0, 24)
	for range 300000 {
		f := math.Float64frombits(rng.Uint64())
		switch rng.IntN(3) {
		case 0:
			f = rng.Float64() * math.Pow(10, float64(rng.IntN(30)-12))
		case 1:
			f = float64(rng.IntN(1e6)) / float64(1+rng.IntN(1000))
		}
		check(strconv.FormatFloat(f, 'g', 17, 64))
		check(strconv.FormatFloat(f, 'g', -1, 64))
		digits = digits[:0]
		n := 1 + rng.IntN(21)
		for range n {
			digits = append(digits, byte('0'+rng.IntN(10)))
		}
		if p := rng.IntN(n + 1); p < n {
			digits = append(digits[:p+1], digits[p:]...)
			digits[p] = '.'
		}
		check(string(digits))
	}
}

// checkParseFloat fails t unless parseFloat(s) is strconv.ParseFloat's
// result, bit for bit, and fails when it does.
func checkParseFloat(t *testing.T, s string) {
	t.Helper()
	want, wantErr := strconv.ParseFloat(s, 64)
	got, err := parseFloat([]byte(s))
	if (err != nil) != (wantErr != nil) || math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("parseFloat(%q) = %v, %v; strconv: %v, %v", s, got, err, want, wantErr)
	}
}

// FuzzParseFloat compares parseFloat with strconv.ParseFloat on any text
// (make fuzz).
func FuzzParseFloat(f *testing.F) {
	for _, s := range []string{"0", "-0.0", "90.890965429999994", "0.30000000000000004", "12345678901234567890",
		"0.4999999999999999584", "4503599627370497.5", "1e5", "inf", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(checkParseFloat)
}
