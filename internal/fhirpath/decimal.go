package fhirpath

import (
	"math/big"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// Numbers stay in their decimal text (jsontree.Number) from the resource to
// the result: FHIR decimals are exact and their trailing zeros significant
// (R4 datatypes.html#decimal), which float64 would lose. Comparison reads the
// digits in place, so it allocates nothing; arithmetic goes through
// math/big.

// decView is a number's text split into its parts, without copying: the
// value is ±ip.fp × 10^exp, ip without leading zeros and fp without trailing
// ones.
type decView struct {
	neg    bool
	ip, fp string
	exp    int
}

// maxExp bounds exponents so that position arithmetic cannot overflow.
const maxExp = 1_000_000_000

// parseDec reads a JSON or FHIRPath number: optional sign, digits, optional
// fraction, optional exponent.
func parseDec(s string) (decView, bool) {
	var d decView
	if s != "" && (s[0] == '-' || s[0] == '+') {
		d.neg = s[0] == '-'
		s = s[1:]
	}
	mant, expPart, hasExp := cutAny(s, "eE")
	if hasExp {
		e, err := strconv.Atoi(expPart)
		if err != nil || e > maxExp || e < -maxExp {
			return d, false
		}
		d.exp = e
	}
	ip, fp, hasDot := strings.Cut(mant, ".")
	if ip == "" && fp == "" || hasDot && fp == "" || digits(ip) != len(ip) || digits(fp) != len(fp) {
		return d, false
	}
	for ip != "" && ip[0] == '0' {
		ip = ip[1:]
	}
	for fp != "" && fp[len(fp)-1] == '0' {
		fp = fp[:len(fp)-1]
	}
	d.ip, d.fp = ip, fp
	return d, true
}

// cutAny splits s at the first byte that is in set.
func cutAny(s, set string) (before, after string, found bool) {
	if i := strings.IndexAny(s, set); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func (d *decView) isZero() bool {
	return d.ip == "" && strings.Trim(d.fp, "0") == ""
}

// msd is the power of ten of the most significant non-zero digit; the value
// must not be zero.
func (d *decView) msd() int {
	if d.ip != "" {
		return len(d.ip) - 1 + d.exp
	}
	z := len(d.fp) - len(strings.TrimLeft(d.fp, "0"))
	return d.exp - z - 1
}

// lsd is the power of ten of the last digit held.
func (d *decView) lsd() int { return d.exp - len(d.fp) }

// digitAt returns the digit at power of ten p.
func (d *decView) digitAt(p int) byte {
	if i := len(d.ip) - 1 - (p - d.exp); i >= 0 && i < len(d.ip) {
		return d.ip[i] - '0'
	}
	if j := d.exp - p - 1; j >= 0 && j < len(d.fp) {
		return d.fp[j] - '0'
	}
	return 0
}

// cmpDec compares two numbers by value.
func cmpDec(a, b *decView) int {
	az, bz := a.isZero(), b.isZero()
	switch {
	case az && bz:
		return 0
	case az:
		return signOf(b, -1)
	case bz:
		return signOf(a, 1)
	case a.neg != b.neg:
		return signOf(a, 1)
	}
	c := cmpMag(a, b)
	if a.neg {
		return -c
	}
	return c
}

// signOf is pos for a positive number, -pos for a negative one.
func signOf(d *decView, pos int) int {
	if d.neg {
		return -pos
	}
	return pos
}

func cmpMag(a, b *decView) int {
	am, bm := a.msd(), b.msd()
	if am != bm {
		if am > bm {
			return 1
		}
		return -1
	}
	low := min(a.lsd(), b.lsd())
	for p := am; p >= low; p-- {
		x, y := a.digitAt(p), b.digitAt(p)
		if x != y {
			if x > y {
				return 1
			}
			return -1
		}
	}
	return 0
}

// decimalEqual compares numbers by value (1.0 = 1, 1e2 = 100).
func decimalEqual(a, b jsontree.Number) bool {
	if a == b {
		return true
	}
	x, ok1 := parseDec(string(a))
	y, ok2 := parseDec(string(b))
	return ok1 && ok2 && cmpDec(&x, &y) == 0
}

// places is the number of decimal places the text shows (1.50 has 2), used
// by equivalence, which rounds to the less precise operand.
func places(s string) int {
	mant, expPart, _ := cutAny(strings.TrimLeft(s, "+-"), "eE")
	_, fp, _ := strings.Cut(mant, ".")
	e, _ := strconv.Atoi(expPart)
	return max(len(fp)-e, 0)
}

// maxDigits bounds the operands of arithmetic: FHIRPath decimals have 28
// significant digits and 8 places (N1 "Decimal"), FHIR's at most 18, so
// anything past this is hostile and refused rather than multiplied out.
const maxDigits = 1000

// bigDec is a number as mant × 10^-scale.
type bigDec struct {
	mant  *big.Int
	scale int
}

// toBig converts a number for arithmetic; false when it is malformed or
// beyond maxDigits.
func toBig(n jsontree.Number) (bigDec, bool) {
	d, ok := parseDec(string(n))
	if !ok || len(n) > maxDigits || d.exp > maxDigits || d.exp < -maxDigits {
		return bigDec{}, false
	}
	// The written digits, trailing zeros included: they are the precision
	// a result keeps (1.50 + 1 = 2.50).
	mant, _, _ := cutAny(strings.TrimLeft(string(n), "+-"), "eE")
	ip, fp, _ := strings.Cut(mant, ".")
	m, ok := new(big.Int).SetString("0"+ip+fp, 10)
	if !ok {
		return bigDec{}, false
	}
	if d.neg {
		m.Neg(m)
	}
	return bigDec{mant: m, scale: len(fp) - d.exp}, true
}

var bigTen = big.NewInt(10)

func pow10(n int) *big.Int { return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil) }

// align returns a and b's mantissas at the larger of their scales.
func align(a, b bigDec) (x, y *big.Int, scale int) {
	x, y = new(big.Int).Set(a.mant), new(big.Int).Set(b.mant)
	switch {
	case a.scale < b.scale:
		x.Mul(x, pow10(b.scale-a.scale))
		return x, y, b.scale
	case b.scale < a.scale:
		y.Mul(y, pow10(a.scale-b.scale))
	}
	return x, y, a.scale
}

// text writes mant × 10^-scale as decimal text, with at least minScale
// places (so 1.50 + 1 keeps two places) and no exponent.
func (d bigDec) text(minScale int) string {
	m, scale := new(big.Int).Set(d.mant), d.scale
	if scale < 0 {
		m.Mul(m, pow10(-scale))
		scale = 0
	}
	for scale > minScale && new(big.Int).Rem(m, bigTen).Sign() == 0 {
		m.Quo(m, bigTen)
		scale--
	}
	neg := m.Sign() < 0
	s := new(big.Int).Abs(m).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// quotientDigits is the precision of /: 28 significant digits, the
// precision of the .NET decimal the HL7 reference engine computes with.
const quotientDigits = 28

// arith applies + - * / div mod to two numbers. ok is false for division by
// zero (the result is empty, N1 "Math"); err for operands out of range.
func arith(op string, a, b jsontree.Number) (res jsontree.Number, ok bool, err error) {
	x, ok1 := toBig(a)
	y, ok2 := toBig(b)
	if !ok1 || !ok2 {
		return "", false, errNumberRange
	}
	keep := max(x.scale, y.scale, 0)
	var r bigDec
	switch op {
	case "+", "-":
		p, q, s := align(x, y)
		if op == "+" {
			p.Add(p, q)
		} else {
			p.Sub(p, q)
		}
		r = bigDec{p, s}
	case "*":
		r = bigDec{new(big.Int).Mul(x.mant, y.mant), x.scale + y.scale}
		keep = max(x.scale, 0) + max(y.scale, 0)
	case "/":
		if y.mant.Sign() == 0 {
			return "", false, nil
		}
		// Scale the dividend so the quotient has quotientDigits+1 digits,
		// then round half away from zero on the last.
		k := max(0, quotientDigits+1+len(y.mant.String())-len(x.mant.String()))
		n := new(big.Int).Mul(x.mant, pow10(k))
		q, rem := new(big.Int).QuoRem(n, y.mant, new(big.Int))
		if rem.Sign() != 0 {
			// Not exact: round to quotientDigits digits.
			q = roundDigits(q)
			k--
		}
		r = bigDec{q, x.scale - y.scale + k}
		keep = 0
	case "div", "mod":
		if y.mant.Sign() == 0 {
			return "", false, nil
		}
		p, q, s := align(x, y)
		quo, rem := new(big.Int).QuoRem(p, q, new(big.Int))
		if op == "div" {
			r, keep = bigDec{quo, 0}, 0
		} else {
			r = bigDec{rem, s}
		}
	}
	return jsontree.Number(r.text(keep)), true, nil
}

// roundDigits drops the last digit of q, rounding half away from zero.
func roundDigits(q *big.Int) *big.Int {
	r := new(big.Int)
	q, r = new(big.Int).QuoRem(q, bigTen, r)
	if r.CmpAbs(big.NewInt(5)) >= 0 {
		if q.Sign() < 0 || r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// negate returns -n.
func negate(n jsontree.Number) jsontree.Number {
	s := string(n)
	switch {
	case strings.HasPrefix(s, "-"):
		return jsontree.Number(s[1:])
	case strings.HasPrefix(s, "+"):
		return jsontree.Number("-" + s[1:])
	}
	return jsontree.Number("-" + s)
}

// roundTo returns n rounded half away from zero to p decimal places; used
// by equivalence.
func roundTo(n jsontree.Number, p int) (bigDec, bool) {
	x, ok := toBig(n)
	if !ok {
		return bigDec{}, false
	}
	for x.scale > p {
		x = bigDec{roundDigits(x.mant), x.scale - 1}
	}
	return x, true
}

// decEquivalent reports whether a and b are equal when rounded to the
// places of the less precise one (N1 "Equivalence", Decimal).
func decEquivalent(a, b jsontree.Number) bool {
	p := min(places(string(a)), places(string(b)))
	x, ok1 := roundTo(a, p)
	y, ok2 := roundTo(b, p)
	if !ok1 || !ok2 {
		return false
	}
	s, t, _ := align(x, y)
	return s.Cmp(t) == 0
}

// isIntegral reports whether a number's value is whole.
func isIntegral(n jsontree.Number) bool {
	d, ok := parseDec(string(n))
	return ok && (d.isZero() || d.lsd() >= 0)
}
