package ldapserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// The subset of BER (X.690) that LDAP (RFC 4511 §5.1) uses: definite lengths, single-byte
// tags. Decoding works on slices of one message's bytes and never allocates per element.

var errBER = errors.New("malformed BER")

// element is one decoded TLV; val points into the message.
type element struct {
	tag byte // the identifier octet (class, constructed bit, tag number)
	val []byte
}

// next splits the first element off b.
func next(b []byte) (element, []byte, error) {
	if len(b) < 2 {
		return element{}, nil, errBER
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return element{}, nil, fmt.Errorf("%w: multi-byte tag", errBER)
	}
	n, hl, err := length(b[1:])
	if err != nil {
		return element{}, nil, err
	}
	b = b[1+hl:]
	if n > len(b) {
		return element{}, nil, fmt.Errorf("%w: element longer than its container", errBER)
	}
	return element{tag: tag, val: b[:n]}, b[n:], nil
}

// length decodes a definite length and returns it with the octets it took.
func length(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, errBER
	}
	if b[0] < 0x80 {
		return int(b[0]), 1, nil
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 4 || len(b) < 1+k {
		return 0, 0, fmt.Errorf("%w: unsupported length", errBER)
	}
	n := 0
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n < 0 {
		return 0, 0, errBER
	}
	return n, 1 + k, nil
}

// integer decodes an INTEGER or ENUMERATED value.
func integer(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 8 {
		return 0, fmt.Errorf("%w: integer of %d octets", errBER, len(v))
	}
	n := int64(int8(v[0]))
	for _, c := range v[1:] {
		n = n<<8 | int64(c)
	}
	return n, nil
}

// readMessage reads one LDAPMessage (a SEQUENCE) of at most max octets.
func readMessage(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != 0x30 {
		return nil, fmt.Errorf("%w: message is not a SEQUENCE", errBER)
	}
	first, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	n := int(first)
	if first >= 0x80 {
		k := int(first & 0x7f)
		if k == 0 || k > 4 {
			return nil, fmt.Errorf("%w: unsupported length", errBER)
		}
		n = 0
		for i := 0; i < k; i++ {
			c, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			n = n<<8 | int(c)
		}
	}
	if n > max {
		return nil, errTooLarge
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

var errTooLarge = errors.New("message larger than the server accepts")

// encoder appends BER elements; begin/end wrap constructed ones with minimal lengths.
type encoder struct{ b []byte }

func (e *encoder) begin(tag byte) int {
	e.b = append(e.b, tag, 0)
	return len(e.b)
}

func (e *encoder) end(start int) {
	n := len(e.b) - start
	if n < 0x80 {
		e.b[start-1] = byte(n)
		return
	}
	k := 1
	for x := n >> 8; x > 0; x >>= 8 {
		k++
	}
	e.b = append(e.b, make([]byte, k)...)
	copy(e.b[start+k:], e.b[start:start+n])
	e.b[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		e.b[start+i] = byte(n)
		n >>= 8
	}
}

func (e *encoder) str(tag byte, s string) {
	e.lenHeader(tag, len(s))
	e.b = append(e.b, s...)
}

func (e *encoder) bytes(tag byte, s []byte) {
	e.lenHeader(tag, len(s))
	e.b = append(e.b, s...)
}

func (e *encoder) lenHeader(tag byte, n int) {
	e.b = append(e.b, tag)
	switch {
	case n < 0x80:
		e.b = append(e.b, byte(n))
	case n < 0x100:
		e.b = append(e.b, 0x81, byte(n))
	case n < 0x10000:
		e.b = append(e.b, 0x82, byte(n>>8), byte(n))
	default:
		e.b = append(e.b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func (e *encoder) int(tag byte, v int64) {
	var tmp [8]byte
	n := 0
	for {
		tmp[7-n] = byte(v)
		n++
		v >>= 8
		if (v == 0 && tmp[8-n]&0x80 == 0) || (v == -1 && tmp[8-n]&0x80 != 0) {
			break
		}
	}
	e.bytes(tag, tmp[8-n:])
}

func (e *encoder) bool(tag byte, v bool) {
	if v {
		e.b = append(e.b, tag, 1, 0xff)
	} else {
		e.b = append(e.b, tag, 1, 0)
	}
}
