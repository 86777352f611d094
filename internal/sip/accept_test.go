package sip

import "testing"

// TestFramer: the read time-out applies while a message is incomplete, whatever the chunks.
func TestFramer(t *testing.T) {
	msg := "INVITE sip:a@b SIP/2.0\r\nl: 5\r\nVia: x\r\n\r\nhello"
	for split := 0; split <= len(msg); split++ {
		var f framer
		f.feed([]byte("\r\n\r\n")) // keep-alives
		if f.partial() {
			t.Fatal("keep-alives counted as a started message")
		}
		f.feed([]byte(msg[:split]))
		if want := split > 0 && split < len(msg); f.partial() != want {
			t.Fatalf("split %d: partial %v after the first part", split, f.partial())
		}
		f.feed([]byte(msg[split:] + "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\nBYE"))
		if f.messages != 2 || !f.partial() {
			t.Fatalf("split %d: %d messages, partial %v; want 2 and a started third", split, f.messages, f.partial())
		}
	}
}
