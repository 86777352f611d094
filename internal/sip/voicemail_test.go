package sip_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// Voicemail against real phones: a sipp caller calls an extension that is not registered
// (or is busy), hears the box's greeting and the beep, speaks the 7 s of g711a.pcap and
// hangs up; the message is stored as an encrypted WAV with its row, and its audio is what
// was sent. A caller who hangs up during the greeting leaves nothing.

const g711aPcap = "/usr/share/sip-tester/g711a.pcap"

// pcapSpeech decodes the A-law RTP payloads of a pcap file.
func pcapSpeech(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: install the Debian package sip-tester", err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian pcap file", path)
	}
	link := binary.LittleEndian.Uint32(b[20:])
	var out []int16
	for off := 24; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		pkt := b[off+16 : min(len(b), off+16+n)]
		off += 16 + n
		l2 := map[uint32]int{1: 14, 113: 16}[link]
		if len(pkt) < l2+20 {
			continue
		}
		ip := pkt[l2:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != 17 || len(ip) < ihl+8+12 {
			continue
		}
		rtp := ip[ihl+8:]
		if rtp[1]&0x7f != 8 {
			continue
		}
		hdr := 12 + int(rtp[0]&0x0f)*4
		payload := rtp[hdr:]
		pcm := make([]int16, len(payload))
		audio.PCMA.Decode(pcm, payload)
		out = append(out, pcm...)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no A-law RTP", path)
	}
	return out
}

func energy(pcm []int16) float64 {
	var e float64
	for _, x := range pcm {
		e += float64(x) * float64(x)
	}
	return e
}

// toneWAV is a 16-bit 8 kHz WAV of a tone.
func toneWAV(d time.Duration, hz float64) []byte {
	n := audio.Samples(d)
	raw := make([]byte, 2*n)
	for i := range n {
		x := int16(6000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(x))
	}
	b, _ := audio.EncodeWAV(audio.Format{Encoding: audio.LinearPCM16, Rate: 8000, Channels: 1}, raw)
	return b
}

// vmPath is the API path of an extension's box.
func (e *env) vmPath(number string) string {
	e.t.Helper()
	x, err := e.p.App.DB.ExtensionByNumber(context.Background(), 1, number)
	if err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprintf("/api/v1/tenants/1/extensions/%d/voicemail", x.ID)
}

func (e *env) vmMessages(number string) []store.VoicemailMessage {
	e.t.Helper()
	var l struct {
		Items []store.VoicemailMessage `json:"items"`
	}
	e.p.MustDo(200, "GET", e.vmPath(number)+"/messages", e.p.AdminToken, nil, &l)
	return l.Items
}

func (e *env) vmFiles() []store.ContentFile {
	e.t.Helper()
	all, err := e.p.App.DB.AllContentFiles(context.Background(), store.Page{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []store.ContentFile
	for _, f := range all {
		if f.Kind == filestore.KindVoicemail {
			out = append(out, f)
		}
	}
	return out
}

// checkMessage asserts one message in 1002's box whose audio is the pcap's speech: as long
// (within the pause before it and a little after), with the same energy within 25 %.
func (e *env) checkMessage(t *testing.T, lead time.Duration) {
	t.Helper()
	var ms []store.VoicemailMessage
	waitFor(t, "the message", func() bool { ms = e.vmMessages("1002"); return len(ms) > 0 })
	if len(ms) != 1 {
		t.Fatalf("%d messages, want 1", len(ms))
	}
	m := ms[0]
	speech := pcapSpeech(t, g711aPcap)
	sent := audio.Duration(len(speech))
	if d := time.Duration(m.DurationMS) * time.Millisecond; d < sent-300*time.Millisecond || d > sent+lead+time.Second {
		t.Errorf("message lasts %s, the caller spoke %s after a pause of at most %s", d, sent, lead)
	}
	if m.CallerNumber != "1001" || m.ReadAt != 0 || m.UserID != nil && *m.UserID == 0 {
		t.Errorf("message row %+v", m)
	}
	st, wav := e.p.Do("GET", fmt.Sprintf("%s/messages/%d/audio", e.vmPath("1002"), m.ID), e.p.AdminToken, nil)
	if st != 200 {
		t.Fatalf("download: %d %s", st, wav)
	}
	w, err := audio.ReadWAV(bytes.NewReader(wav), int64(len(wav)))
	if err != nil || w.Encoding != audio.LinearPCM16 || w.Rate != 8000 {
		t.Fatalf("stored WAV: %v %+v", err, w)
	}
	got := make([]int16, len(w.Data)/2)
	for i := range got {
		got[i] = int16(binary.LittleEndian.Uint16(w.Data[2*i:]))
	}
	if r := energy(got) / energy(speech); r < 0.75 || r > 1.25 {
		t.Errorf("stored audio has %.2f times the energy of what was sent", r)
	}
	fs := e.vmFiles()
	if len(fs) != 1 || fs[0].ID != m.FileID || fs[0].State != store.FileReady {
		t.Errorf("voicemail files %+v for message file %d", fs, m.FileID)
	}
}

// boxWithMessage switches voicemail to short prompts, leaves a message of a second from
// caller in number's box and gives the box the PIN 2468.
func (e *env) boxWithMessage(number, caller string) (store.VoicemailBox, store.VoicemailMessage) {
	e.t.Helper()
	vm := e.p.App.Voicemail
	vm.UsePrompts(shortPrompts{})
	ctx := context.Background()
	b, err := vm.Box(ctx, 1, number)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := vm.Store(ctx, b, voicemail.Deposit{CallerNumber: caller, At: time.Now(), PCM: make([]int16, 8000)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.p.MustDo(204, "PUT", e.vmPath(number)+"/pin", e.p.AdminToken, map[string]any{"pin": "2468"}, nil)
	return b, m
}

// putGreeting enables the box of number and uploads a greeting of a tone lasting d.
func (e *env) putGreeting(number, slot string, d time.Duration) {
	e.t.Helper()
	e.p.MustDo(200, "PATCH", e.vmPath(number), e.p.AdminToken, map[string]any{"enabled": true}, nil)
	st, body := e.p.Do("PUT", e.vmPath(number)+"/greetings/"+slot, e.p.AdminToken, toneWAV(d, 600))
	if st != 200 {
		e.t.Fatalf("greeting upload: %d %s", st, body)
	}
}

// TestVoicemailUnregistered: 1002 has no phone registered, so 1001's call goes to its box.
func TestVoicemailUnregistered(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putGreeting("1002", "unavailable", time.Second)
	const lead = 2500 * time.Millisecond // greeting 1 s, beep 0.4 s, then silence
	e.sippUAC("caller", "uac_voicemail.xml", "udp", "-d", fmt.Sprint(lead.Milliseconds())).wait(t)
	e.checkMessage(t, lead)
	// The box's summary counts it as unread.
	var box struct {
		Summary struct{ Total, Unread int } `json:"summary"`
	}
	e.p.MustDo(200, "GET", e.vmPath("1002"), e.p.AdminToken, nil, &box)
	if box.Summary.Total != 1 || box.Summary.Unread != 1 {
		t.Errorf("summary %+v", box.Summary)
	}
}

// TestVoicemailBusy: 1002's phone answers 486, so the call goes to its box.
func TestVoicemailBusy(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putGreeting("1002", "busy", time.Second)
	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas_busy.xml", uas)
	e.register("1002", "secret-1002", uas)
	const lead = 2500 * time.Millisecond
	e.sippUAC("caller", "uac_voicemail.xml", "udp", "-d", fmt.Sprint(lead.Milliseconds())).wait(t)
	callee.wait(t)
	e.checkMessage(t, lead)
}

// TestVoicemailHangupDuringGreeting: a caller who hangs up while the 3 s greeting plays
// leaves no message, no row and no file.
func TestVoicemailHangupDuringGreeting(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putGreeting("1002", "unavailable", 3*time.Second)
	e.sippUAC("caller", "uac.xml", "udp", "-d", "1000").wait(t)
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	time.Sleep(500 * time.Millisecond) // the application ends after the call
	if ms := e.vmMessages("1002"); len(ms) != 0 {
		b, _ := json.Marshal(ms)
		t.Fatalf("messages after a hang-up during the greeting: %s", b)
	}
	if fs := e.vmFiles(); len(fs) != 0 {
		t.Fatalf("voicemail files after a hang-up during the greeting: %+v", fs)
	}
}

// shortPrompts stands in for the spoken prompts: 200 ms of silence each, so that a test's
// keys arrive while the menus wait for them.
type shortPrompts struct{}

func (shortPrompts) Sound(_ context.Context, _ int64, _ string, names ...string) (audio.Sound, error) {
	return audio.Silence(time.Duration(len(names)) * 200 * time.Millisecond), nil
}

// TestVoicemailRetrieve: 1001 dials the feature code, keys its PIN, listens to its message
// and deletes it, all by RFC 4733; the message's file and row are gone and the deletion is
// audited as the phone's. A box without a PIN does not open.
func TestVoicemailRetrieve(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	vm := e.p.App.Voicemail
	vm.UsePrompts(shortPrompts{})
	ctx := context.Background()
	b, err := vm.Box(ctx, 1, "1001")
	if err != nil {
		t.Fatal(err)
	}
	m, err := vm.Store(ctx, b, voicemail.Deposit{CallerNumber: "1002", At: time.Now(), PCM: make([]int16, 8000)})
	if err != nil {
		t.Fatal(err)
	}
	// Without a PIN the box does not open: Privox says goodbye and hangs up (so this sipp
	// run, which wanted to hang up itself, fails), and the message stays unread.
	_ = e.sippUAC("caller without PIN", "uac_voicemail_retrieve.xml", "udp", "-s", voicemail.FeatureCode).end()
	if got, err := vm.Message(ctx, b, m.ID); err != nil || got.ReadAt != 0 {
		t.Fatalf("box without a PIN opened by phone: %+v %v", got, err)
	}
	e.p.MustDo(204, "PUT", e.vmPath("1001")+"/pin", e.p.AdminToken, map[string]any{"pin": "2468"}, nil)
	e.sippUAC("caller", "uac_voicemail_retrieve.xml", "udp", "-s", voicemail.FeatureCode).wait(t)
	waitFor(t, "the deletion", func() bool { _, err := vm.Message(ctx, b, m.ID); return err != nil })
	if _, err := e.p.App.DB.ContentFile(ctx, 1, m.FileID); err == nil {
		t.Error("the deleted message's file is still there")
	}
	audit, err := e.p.App.DB.ListAudit(ctx, 1, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audit {
		found = found || a.Action == "voicemail.delete" && a.Actor == "phone:1001"
		if a.Action == "voicemail.pin_failed" {
			t.Errorf("the right PIN counted as wrong: %+v", a)
		}
	}
	if !found {
		t.Error("the deletion by phone is not audited")
	}
}

// TestVoicemailNoAnswer: 1002's phone rings past the ring time-out, is cancelled, and the
// caller leaves a message in its box.
func TestVoicemailNoAnswer(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.NoAnswer = time.Second })
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putGreeting("1002", "unavailable", time.Second)
	uas := e.newPeer("udp")
	callee := e.sippUAS("ringing phone", "uas_cancel.xml", uas)
	e.register("1002", "secret-1002", uas)
	const lead = 2500 * time.Millisecond
	e.sippUAC("caller", "uac_voicemail.xml", "udp", "-d", fmt.Sprint(lead.Milliseconds())).wait(t)
	callee.wait(t)
	e.checkMessage(t, lead+time.Second)
}

// TestVoicemailMWI: a sipp phone subscribes to 1001's message-summary and receives NOTIFYs
// with the counts as they change: none, one new, then that one read.
func TestVoicemailMWI(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	vm := e.p.App.Voicemail
	ctx := context.Background()
	b, err := vm.Box(ctx, 1, "1001")
	if err != nil {
		t.Fatal(err)
	}
	target := e.target("udp")
	r := e.sipp("subscriber", "subscribe_mwi.xml", target, "-t", "u1", "-s", "1001", "-au", "1001", "-ap", "secret-1001",
		"-auth_uri", "1001@"+target, "-i", "127.0.0.1", "-p", fmt.Sprint(freePort(t)), "-m", "1", "-timeout", "30")
	seen := func(s string) func() bool {
		return func() bool { return strings.Contains(r.messages(), s) }
	}
	waitFor(t, "the first NOTIFY", seen("Voice-Message: 0/0"))
	m, err := vm.Store(ctx, b, voicemail.Deposit{CallerNumber: "1002", At: time.Now(), PCM: make([]int16, 8000)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the NOTIFY of the new message", seen("Voice-Message: 1/0"))
	if !strings.Contains(r.messages(), "Messages-Waiting: yes") {
		t.Error("no Messages-Waiting: yes with a new message")
	}
	if _, err := vm.MarkRead(ctx, b, m.ID, true); err != nil {
		t.Fatal(err)
	}
	r.wait(t)
}

// TestVoicemailReRecord: a caller who keys * while recording starts again after a new beep;
// the message is what was said afterwards (a * that ended the message would leave nothing).
func TestVoicemailReRecord(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putGreeting("1002", "unavailable", time.Second)
	const lead = 2500 * time.Millisecond
	e.sippUAC("caller", "uac_voicemail_rerecord.xml", "udp", "-d", fmt.Sprint(lead.Milliseconds())).wait(t)
	e.checkMessage(t, lead)
}

// TestVoicemailBaresip: baresip 1001 leaves a message of its 440 Hz tone in 1002's box; then
// baresip 1002 dials the feature code and keys PIN, listen and delete in-band (sox-made
// DTMF), and the message is gone.
func TestVoicemailBaresip(t *testing.T) {
	need(t, "baresip", "baresip")
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putGreeting("1002", "unavailable", time.Second)
	e.p.MustDo(204, "PUT", e.vmPath("1002")+"/pin", e.p.AdminToken, map[string]any{"pin": "2468"}, nil)
	dir := t.TempDir()
	e.baresip(dir, "1001", "secret-1001", 440, []string{"-e", "/dial 1002"}, 8).wait(t)
	var ms []store.VoicemailMessage
	waitFor(t, "the message", func() bool { ms = e.vmMessages("1002"); return len(ms) > 0 })
	if d := time.Duration(ms[0].DurationMS) * time.Millisecond; len(ms) != 1 || d < 3*time.Second || d > 8*time.Second {
		t.Fatalf("%d messages, the first of %s", len(ms), time.Duration(ms[0].DurationMS)*time.Millisecond)
	}
	st, wav := e.p.Do("GET", fmt.Sprintf("%s/messages/%d/audio", e.vmPath("1002"), ms[0].ID), e.p.AdminToken, nil)
	w, err := audio.ReadWAV(bytes.NewReader(wav), int64(len(wav)))
	if st != 200 || err != nil {
		t.Fatalf("download: %d %v", st, err)
	}
	pcm := make([]float64, len(w.Data)/2)
	for i := range pcm {
		pcm[i] = float64(int16(binary.LittleEndian.Uint16(w.Data[2*i:])))
	}
	if a, b := goertzel(pcm, 440), goertzel(pcm, 1000); a < 1e12 || a < 100*b {
		t.Errorf("the stored message is not the caller's 440 Hz tone (440 Hz %.3g, 1 kHz %.3g)", a, b)
	}

	e.p.App.Voicemail.UsePrompts(shortPrompts{})
	keys := callerWAV(t, dir, 1.5, "2468#13")
	e.baresipWAV(dir, "1002", "secret-1002", keys, "", "", []string{"-e", "/dial " + voicemail.FeatureCode}, 10).wait(t)
	waitFor(t, "the deletion by phone", func() bool { return len(e.vmMessages("1002")) == 0 })
	if fs := e.vmFiles(); len(fs) != 0 {
		t.Errorf("voicemail files after the deletion: %+v", fs)
	}
}

// TestVoicemailMainNumber: from 1001's phone, the voicemail main number asks which box; the
// caller keys 2010, then 2010's PIN, listens and deletes the message; the deletion is
// audited as done by phone from 1001.
func TestVoicemailMainNumber(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("2010", "secret-2010")
	vm := e.p.App.Voicemail
	ctx := context.Background()
	b, m := e.boxWithMessage("2010", "030123")
	e.sippUAC("caller", "uac_voicemail_main.xml", "udp", "-s", voicemail.MainCode).wait(t)
	waitFor(t, "the deletion", func() bool { _, err := vm.Message(ctx, b, m.ID); return err != nil })
	audit, err := e.p.App.DB.ListAudit(ctx, 1, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audit {
		found = found || a.Action == "voicemail.delete" && a.Actor == "phone:1001"
	}
	if !found {
		t.Error("the deletion through the main number is not audited")
	}
}

// TestVoicemailFromTrunk: a caller from outside dials a DID of extension 1002, which has no
// phone registered: the call goes to 1002's box as a colleague's would, and the message keeps
// the caller's number in E.164 and the audio that was sent.
func TestVoicemailFromTrunk(t *testing.T) {
	e := start(t, nil)
	e.ext("1002", "secret-1002")
	e.putGreeting("1002", "unavailable", time.Second)
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "127.0.0.2:5060", "--sources", "127.0.0.2"},
		{"did", "add", "--tenant", "default", "--number", "030 5550100", "--dest", "extension:1002"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	waitFor(t, "the trunk's address", func() bool { return e.srv().TrunkSourceKnownForTest("127.0.0.2") })
	const lead = 2500 * time.Millisecond
	e.trunkUAC("127.0.0.2", "trunk_uac_voicemail.xml", "+49305550100", "+49305550100", "0301112222", "-d", fmt.Sprint(lead.Milliseconds())).wait(t)
	var ms []store.VoicemailMessage
	waitFor(t, "the message", func() bool { ms = e.vmMessages("1002"); return len(ms) > 0 })
	sent := audio.Duration(len(pcapSpeech(t, g711aPcap)))
	if m := ms[0]; len(ms) != 1 || m.CallerNumber != "+49301112222" || time.Duration(m.DurationMS)*time.Millisecond < sent-300*time.Millisecond {
		t.Errorf("messages %+v (the caller spoke %s)", ms, sent)
	}
}
