// Command vmbench holds the helpers of the voicemail benchmark (bench/voicemail.sh):
//
//	vmbench smtp -ca FILE -port-file FILE -log FILE
//	    an SMTP server on a free loopback port (STARTTLS with a certificate from a private CA
//	    made at start, written to -ca) that accepts every message and logs one line per
//	    message: acceptance time (Unix ms), recipient, size in bytes, whether the session was
//	    encrypted, and the length of the attached WAV in ms (-1 without one). Nothing of a
//	    message's text or audio is logged.
//	vmbench audio -pcap FILE -secs S -out FILE
//	    the A-law payloads of an RTP pcap (sipp's g711a.pcap) repeated to S seconds, raw, for
//	    sipp's rtp_stream.
//	vmbench rtp -pcap FILE
//	    reads a capture of the packets a server sent to its callers and prints, over the
//	    prompts of every stream (its packets up to the last that is not silence), the
//	    packets, those that arrived late by their inter-arrival and by their stream's
//	    schedule (see lateness), the largest lateness and gap, the shortest and longest
//	    prompt, and the packets after the prompts.
//	vmbench latency -byes FILE -mails FILE
//	    joins the callers' hang-up times with the SMTP server's acceptance times by box
//	    number and prints the count and the p50/p99/max of hang-up to accepted e-mail.
package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: vmbench smtp|audio|rtp|latency [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "smtp":
		err = runSMTP(args)
	case "audio":
		err = runAudio(args)
	case "rtp":
		err = runRTP(args)
	case "latency":
		err = runLatency(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmbench:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- SMTP server

func runSMTP(args []string) error {
	fs := flag.NewFlagSet("smtp", flag.ExitOnError)
	caFile := fs.String("ca", "", "write the private CA's PEM certificate here")
	portFile := fs.String("port-file", "", "write the listening port here once it listens")
	logFile := fs.String("log", "", "append one line per accepted message here")
	fs.Parse(args)
	if *caFile == "" || *portFile == "" || *logFile == "" {
		return errors.New("smtp: -ca, -port-file and -log are required")
	}
	caPEM, cert, err := newCertificates()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*caFile, caPEM, 0o600); err != nil {
		return err
	}
	out, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	rec := &recorder{w: bufio.NewWriter(out)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{rec: rec, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 256 << 20
	srv.MaxRecipients = 10
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(*portFile, []byte(strconv.Itoa(port)+"\n"), 0o600); err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		srv.Close()
	}()
	// Lines are flushed every 100 ms and when the server stops, not per message.
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				rec.flush()
			}
		}
	}()
	err = srv.Serve(ln)
	close(done)
	rec.flush()
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

type recorder struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (r *recorder) add(at time.Time, rcpt string, size int, encrypted bool, wavMS int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tls := 0
	if encrypted {
		tls = 1
	}
	fmt.Fprintf(r.w, "%d %s %d %d %d\n", at.UnixMilli(), rcpt, size, tls, wavMS)
}

func (r *recorder) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w.Flush()
}

type session struct {
	rec  *recorder
	conn *smtp.Conn
	to   []string
}

func (s *session) Reset()        { s.to = nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	at := time.Now()
	_, encrypted := s.conn.TLSConnectionState()
	wav := attachedWAVMillis(data)
	for _, to := range s.to {
		s.rec.add(at, to, len(data), encrypted, wav)
	}
	return nil
}

// attachedWAVMillis is the length of the first WAV attachment of a message in ms (from its
// format and data chunk sizes), or -1 when it has none or it cannot be read.
func attachedWAVMillis(raw []byte) int64 {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return -1
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return -1
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err != nil {
			return -1
		}
		if part.FileName() == "" {
			continue
		}
		var body io.Reader = part
		if strings.EqualFold(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding")), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, lineJoiner{part})
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return -1
		}
		return wavMillis(b)
	}
}

// lineJoiner drops line breaks, which base64.NewDecoder does not skip everywhere.
type lineJoiner struct{ r io.Reader }

func (l lineJoiner) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// wavMillis reads the byte rate and the data chunk's size of a RIFF WAVE file.
func wavMillis(b []byte) int64 {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return -1
	}
	var byteRate uint32
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), binary.LittleEndian.Uint32(b[p+4:p+8])
		body := p + 8
		switch id {
		case "fmt ":
			if body+12 <= len(b) {
				byteRate = binary.LittleEndian.Uint32(b[body+8 : body+12])
			}
		case "data":
			if byteRate == 0 {
				return -1
			}
			n := min(int64(size), int64(len(b)-body))
			return n * 1000 / int64(byteRate)
		}
		p = body + int(size) + int(size&1)
	}
	return -1
}

// newCertificates makes a private CA and a server certificate for 127.0.0.1 signed by it.
func newCertificates() ([]byte, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	now := time.Now()
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vmbench private CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// ---------------------------------------------------------------- pcap

// packet is one captured UDP datagram.
type packet struct {
	at               time.Time
	src, dst         string
	srcPort, dstPort int
	payload          []byte
}

// readPcap reads the UDP/IPv4 datagrams of a classic pcap file (Ethernet, Linux cooked v1
// or v2, or raw IP link types; micro- or nanosecond time stamps).
func readPcap(path string) ([]packet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, errors.New("pcap: file too short")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	nano := false
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		nano = true
	default:
		bo = binary.BigEndian
		switch binary.BigEndian.Uint32(b) {
		case 0xa1b2c3d4:
		case 0xa1b23c4d:
			nano = true
		default:
			return nil, errors.New("pcap: not a classic pcap file")
		}
	}
	link := bo.Uint32(b[20:24])
	var out []packet
	for p := 24; p+16 <= len(b); {
		sec, frac, incl := bo.Uint32(b[p:]), bo.Uint32(b[p+4:]), int(bo.Uint32(b[p+8:]))
		p += 16
		if p+incl > len(b) {
			break
		}
		frame := b[p : p+incl]
		p += incl
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		var ip []byte
		switch link {
		case 1: // Ethernet
			if len(frame) < 14 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
				continue
			}
			ip = frame[14:]
		case 113: // Linux cooked v1
			if len(frame) < 16 || binary.BigEndian.Uint16(frame[14:]) != 0x0800 {
				continue
			}
			ip = frame[16:]
		case 276: // Linux cooked v2
			if len(frame) < 20 || binary.BigEndian.Uint16(frame[0:]) != 0x0800 {
				continue
			}
			ip = frame[20:]
		case 101, 228: // raw IPv4
			ip = frame
		default:
			return nil, fmt.Errorf("pcap: link type %d not supported", link)
		}
		if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
			continue
		}
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) < ihl+8 {
			continue
		}
		udp := ip[ihl:]
		out = append(out, packet{
			at:  time.Unix(int64(sec), ns),
			src: net.IP(ip[12:16]).String(), dst: net.IP(ip[16:20]).String(),
			srcPort: int(binary.BigEndian.Uint16(udp[0:])), dstPort: int(binary.BigEndian.Uint16(udp[2:])),
			payload: udp[8:],
		})
	}
	return out, nil
}

// rtpHeader is what the analysis needs of an RTP header.
type rtpHeader struct {
	pt     byte
	marker bool
	seq    uint16
	ts     uint32
	ssrc   uint32
	body   int // offset of the payload
}

func parseRTP(b []byte) (rtpHeader, bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return rtpHeader{}, false
	}
	h := rtpHeader{pt: b[1] & 0x7f, marker: b[1]&0x80 != 0, seq: binary.BigEndian.Uint16(b[2:]),
		ts: binary.BigEndian.Uint32(b[4:]), ssrc: binary.BigEndian.Uint32(b[8:])}
	h.body = 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < h.body+4 {
			return rtpHeader{}, false
		}
		h.body += 4 + 4*int(binary.BigEndian.Uint16(b[h.body+2:]))
	}
	if h.body > len(b) {
		return rtpHeader{}, false
	}
	return h, true
}

// ---------------------------------------------------------------- audio

func runAudio(args []string) error {
	fs := flag.NewFlagSet("audio", flag.ExitOnError)
	in := fs.String("pcap", "/usr/share/sip-tester/g711a.pcap", "RTP capture with A-law (payload type 8)")
	secs := fs.Float64("secs", 30, "length of the output")
	out := fs.String("out", "", "raw A-law output file")
	fs.Parse(args)
	if *out == "" {
		return errors.New("audio: -out is required")
	}
	pkts, err := readPcap(*in)
	if err != nil {
		return err
	}
	var alaw []byte
	for _, p := range pkts {
		h, ok := parseRTP(p.payload)
		if ok && h.pt == 8 {
			alaw = append(alaw, p.payload[h.body:]...)
		}
	}
	if len(alaw) == 0 {
		return fmt.Errorf("audio: no A-law RTP in %s", *in)
	}
	want := int(*secs * 8000)
	buf := make([]byte, 0, want)
	for len(buf) < want {
		buf = append(buf, alaw[:min(len(alaw), want-len(buf))]...)
	}
	return os.WriteFile(*out, buf, 0o644)
}

// ---------------------------------------------------------------- prompt packet timing

// lateAfter is how late a packet may arrive before it counts as late (the pacer's own limit).
const lateAfter = 5 * time.Millisecond

// reclock is how far behind its schedule a stream may fall before the schedule starts
// afresh (the pacer's own limit: ten frames).
const reclock = 200 * time.Millisecond

type streamKey struct {
	src, dst string
	ssrc     uint32
}

type arrival struct {
	at    time.Time
	ts    uint32
	seq   uint16
	sound bool // the payload is not silence
}

// sounds reports whether a G.711 payload (A-law, payload type 8, or µ-law, 0) holds more
// than near-silence: an RMS above 64 of 32768 (about -54 dBFS).
func sounds(pt byte, b []byte) bool {
	if len(b) == 0 || pt != 0 && pt != 8 {
		return false
	}
	var e float64
	for _, c := range b {
		var x int
		if pt == 8 {
			x = alaw(c)
		} else {
			x = ulaw(c)
		}
		e += float64(x * x)
	}
	return e/float64(len(b)) > 64*64
}

// alaw decodes one G.711 A-law byte to 16-bit linear.
func alaw(c byte) int {
	c ^= 0x55
	t := int(c&0x0f)<<4 + 8
	if seg := int(c&0x70) >> 4; seg > 0 {
		t = (t + 0x100) << (seg - 1)
	}
	if c&0x80 != 0 {
		return t
	}
	return -t
}

// ulaw decodes one G.711 µ-law byte to 16-bit linear.
func ulaw(c byte) int {
	c = ^c
	t := (int(c&0x0f)<<3 + 0x84) << (int(c&0x70) >> 4)
	if c&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}

// lateness of the packets of one stream, two ways. gapLate: the packet arrived more than
// lateAfter after the packet before it plus the time between their RTP time stamps (the
// inter-arrival, as a listener's jitter buffer sees it: a stream that slips once and keeps
// its new pace has one late packet). schedLate: the packet arrived more than lateAfter after
// the time its time stamp gives it on the stream's schedule, which starts at its first
// packet, moves earlier to any packet that arrives ahead of it, and starts afresh when the
// stream falls reclock behind (as the pacer counts: every frame that leaves late). A gap of
// more than 500 ms or a jump of the time stamp (a new prompt) starts both afresh.
func lateness(ps []arrival) (gapLate, schedLate int, worst, gap time.Duration) {
	var base time.Time
	var baseTS uint32
	for i, p := range ps {
		fresh := i == 0
		if i > 0 {
			q := ps[i-1]
			d := p.at.Sub(q.at)
			dts := time.Duration(int32(p.ts-q.ts)) * time.Second / 8000
			if d > 500*time.Millisecond || dts <= 0 || dts > d+time.Second {
				fresh = true
			} else {
				gap = max(gap, d)
				if l := d - dts; l > lateAfter {
					gapLate++
					worst = max(worst, l)
				}
			}
		}
		if fresh {
			base, baseTS = p.at, p.ts
			continue
		}
		off := p.at.Sub(base) - time.Duration(int32(p.ts-baseTS))*time.Second/8000
		switch {
		case off < 0 || off > reclock:
			base, baseTS = p.at, p.ts
		case off > lateAfter:
			schedLate++
		}
	}
	return gapLate, schedLate, worst, gap
}

func runRTP(args []string) error {
	fs := flag.NewFlagSet("rtp", flag.ExitOnError)
	in := fs.String("pcap", "", "capture of the packets the server sent to its callers")
	fs.Parse(args)
	pkts, err := readPcap(*in)
	if err != nil {
		return err
	}
	streams := map[streamKey][]arrival{}
	for _, p := range pkts {
		h, ok := parseRTP(p.payload)
		if !ok || h.pt >= 72 && h.pt <= 76 { // RTCP is not RTP
			continue
		}
		k := streamKey{fmt.Sprintf("%s:%d", p.src, p.srcPort), fmt.Sprintf("%s:%d", p.dst, p.dstPort), h.ssrc}
		streams[k] = append(streams[k], arrival{at: p.at, ts: h.ts, seq: h.seq, sound: sounds(h.pt, p.payload[h.body:])})
	}
	// A stream's prompt is its packets up to the last one that is not silence (the greeting's
	// pauses included); what follows (silence while the caller speaks, if the server sends
	// any) is counted apart and not judged.
	var total, late, sched, after int
	var worst, gap time.Duration
	var lengths []time.Duration
	for _, ps := range streams {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].at.Before(ps[j].at) })
		end := 0
		for i, p := range ps {
			if p.sound {
				end = i + 1
			}
		}
		after += len(ps) - end
		if end == 0 {
			continue
		}
		l, sl, w, g := lateness(ps[:end])
		total += end
		late += l
		sched += sl
		worst, gap = max(worst, w), max(gap, g)
		lengths = append(lengths, ps[end-1].at.Sub(ps[0].at)+20*time.Millisecond)
	}
	sort.Slice(lengths, func(i, j int) bool { return lengths[i] < lengths[j] })
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(late) / float64(total)
	}
	minLen, maxLen := time.Duration(0), time.Duration(0)
	if len(lengths) > 0 {
		minLen, maxLen = lengths[0], lengths[len(lengths)-1]
	}
	fmt.Printf("streams=%d prompts=%d packets=%d late=%d late_pct=%.4f late_sched=%d worst_ms=%.1f max_gap_ms=%.1f prompt_min_ms=%d prompt_max_ms=%d after_prompt=%d\n",
		len(streams), len(lengths), total, late, pct, sched, ms(worst), ms(gap), minLen.Milliseconds(), maxLen.Milliseconds(), after)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ---------------------------------------------------------------- hang-up to e-mail

func runLatency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	byes := fs.String("byes", "", "lines 'BOX UNIX_MS' of the callers' hang-ups")
	mails := fs.String("mails", "", "the smtp command's log")
	fs.Parse(args)
	hung := map[string]int64{}
	if err := eachLine(*byes, func(f []string) {
		if len(f) >= 2 {
			if t, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				hung[f[0]] = t
			}
		}
	}); err != nil {
		return err
	}
	var lat []int64
	unmatched, noWAV, encrypted, n := 0, 0, 0, 0
	var wavMin int64 = -1
	if err := eachLine(*mails, func(f []string) {
		if len(f) < 5 {
			return
		}
		n++
		at, _ := strconv.ParseInt(f[0], 10, 64)
		box := strings.TrimPrefix(strings.SplitN(strings.Trim(f[1], "<>"), "@", 2)[0], "vm")
		if f[3] == "1" {
			encrypted++
		}
		switch w, err := strconv.ParseInt(f[4], 10, 64); {
		case err != nil || w < 0:
			noWAV++
		case wavMin < 0 || w < wavMin:
			wavMin = w
		}
		t, ok := hung[box]
		if !ok {
			unmatched++
			return
		}
		lat = append(lat, at-t)
	}); err != nil {
		return err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	// nearest rank: the smallest value with at least p of the values at or below it
	q := func(p float64) int64 {
		if len(lat) == 0 {
			return -1
		}
		return lat[max(0, int(math.Ceil(p*float64(len(lat))))-1)]
	}
	maxL := int64(-1)
	if len(lat) > 0 {
		maxL = lat[len(lat)-1]
	}
	fmt.Printf("mails=%d matched=%d unmatched=%d encrypted=%d without_wav=%d wav_min_ms=%d p50_ms=%d p99_ms=%d max_ms=%d\n",
		n, len(lat), unmatched, encrypted, noWAV, wavMin, q(0.50), q(0.99), maxL)
	return nil
}

func eachLine(path string, f func([]string)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		f(strings.Fields(sc.Text()))
	}
	return sc.Err()
}
