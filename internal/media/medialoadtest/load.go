// Package medialoadtest measures the media relay under load: it starts N calls on a relay,
// sends 20 ms G.711 packets both ways over loopback for a bounded time, and reports loss and the
// CPU the relay used. The relay runs in a child process (the test binary re-executed) so that
// its CPU time is measured apart from the traffic generator's.
//
// The generator is built to cost the relay's machine as little as possible: a few sockets
// carry all calls' endpoints, and packets go out and come in with sendmmsg/recvmmsg batches.
// The relay cannot batch that way (every leg has its own socket and port, as in production), so
// the figures are the relay's per-packet cost.
//
// Run it with:
//
//	go test ./internal/media/medialoadtest -run TestLoad -v -calls=1000 -duration=20s
package medialoadtest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/privox/privox/internal/media"
)

// Options describe one load run.
type Options struct {
	// Calls is the number of concurrent calls; each has two streams, one per direction.
	Calls int
	// Duration is how long the generator sends.
	Duration time.Duration
	// Interval is the packetisation time (20 ms for G.711 at 50 packets/s); zero means 20 ms.
	Interval time.Duration
	// PortMin and PortMax are the relay's port range; it needs 4 ports per call.
	PortMin, PortMax int
	// Sockets is the number of generator sockets sharing the calls' endpoints; zero means 32.
	Sockets int
	// Engine is the relay's receive engine.
	Engine media.Engine
	// Relay starts the child process that runs Serve; nil runs the relay in this process (then
	// RelayCPU is the whole process's, generator included).
	Relay func(ctx context.Context) *exec.Cmd
}

// Result is what a run measured.
type Result struct {
	Calls    int
	Engine   media.Engine
	Duration time.Duration // of the sending phase
	// Sent and Received count RTP packets at the generator; Loss is 1-Received/Sent.
	Sent, Received uint64
	Loss           float64
	// Late counts send slots the generator missed by more than one interval (the generator,
	// not the relay, was behind).
	Late uint64
	// DelayP50, DelayP99, DelayP999 and DelayMax are one-way delays from the generator's send
	// through the relay back to the generator (100 µs resolution).
	DelayP50, DelayP99, DelayP999, DelayMax time.Duration
	// Machine is the whole machine's CPU time by kind over the run (from /proc/stat): what the
	// two processes' own accounting misses (softirq work in ksoftirqd, other tenants, steal).
	Machine CPUTimes
	// KernelDrops counts UDP datagrams the kernel dropped for full receive buffers during the
	// run (RcvbufErrors in /proc/net/snmp, machine-wide).
	KernelDrops uint64
	// RelayCPU is the user+system CPU time of the relay process from the start of sending to
	// the end of the drain that follows, and RelayCores that time divided by the window's
	// length (1.0 = one core busy).
	RelayCPU   time.Duration
	RelayCores float64
	// GeneratorCPU is the same for this process.
	GeneratorCPU   time.Duration
	GeneratorCores float64
	// RelayPPS is packets relayed per second (in = out).
	RelayPPS float64
	// Stats are the relay's totals at the end.
	Stats media.Stats
}

// String is a one-line summary.
func (r Result) String() string {
	return fmt.Sprintf("engine=%s calls=%d streams=%d duration=%s sent=%d received=%d loss=%.4f%% late=%d relayed=%.0f pkt/s relay_cpu=%.2f cores (%.1f%% of 2) generator_cpu=%.2f cores relay_dropped=%d kernel_drops=%d delay_p50=%s p99=%s p99.9=%s max=%s machine[%s]",
		r.Engine, r.Calls, 2*r.Calls, r.Duration, r.Sent, r.Received, 100*r.Loss, r.Late, r.RelayPPS, r.RelayCores, 50*r.RelayCores, r.GeneratorCores, r.Stats.PacketsDropped, r.KernelDrops, r.DelayP50, r.DelayP99, r.DelayP999, r.DelayMax.Round(10*time.Microsecond), r.Machine)
}

// control messages between Run and Serve, one JSON object per line.
type setupMsg struct {
	Cmd       string `json:"cmd"` // "setup", "start", "stop"
	Calls     int    `json:"calls"`
	PortMin   int    `json:"port_min"`
	PortMax   int    `json:"port_max"`
	Generator []int  `json:"generator"` // generator socket ports on 127.0.0.1
	Engine    int    `json:"engine"`
}

type legsMsg struct {
	Legs  [][2]int `json:"legs"` // per call: relay port of leg A, of leg B
	Error string   `json:"error,omitempty"`
}

type statsMsg struct {
	Stats media.Stats   `json:"stats"`
	CPU   time.Duration `json:"cpu"`
}

// Serve is the relay side of a load run, reading commands from in and answering on out. The
// child process calls it.
func Serve(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	enc := json.NewEncoder(out)
	var setup setupMsg
	if err := dec.Decode(&setup); err != nil {
		return fmt.Errorf("medialoadtest: read setup: %w", err)
	}
	relay, legs, err := startRelay(setup)
	if err != nil {
		_ = enc.Encode(legsMsg{Error: err.Error()})
		return err
	}
	defer relay.Close()
	if err := enc.Encode(legsMsg{Legs: legs}); err != nil {
		return err
	}
	var msg setupMsg
	if err := dec.Decode(&msg); err != nil || msg.Cmd != "start" {
		return fmt.Errorf("medialoadtest: want start: %v", err)
	}
	cpu0 := cpuTime()
	if err := dec.Decode(&msg); err != nil || msg.Cmd != "stop" {
		return fmt.Errorf("medialoadtest: want stop: %v", err)
	}
	cpu := cpuTime() - cpu0
	return enc.Encode(statsMsg{Stats: relay.Stats(), CPU: cpu})
}

// startRelay creates the relay and one session per call; leg A's endpoint is generator socket
// 2i mod n, leg B's 2i+1 mod n.
func startRelay(setup setupMsg) (*media.Relay, [][2]int, error) {
	relay, err := media.NewRelay(media.Config{
		PortMin: setup.PortMin, PortMax: setup.PortMax,
		BindIP:       netip.MustParseAddr("127.0.0.1"),
		MediaTimeout: time.Hour,
		Engine:       media.Engine(setup.Engine),
	})
	if err != nil {
		return nil, nil, err
	}
	n := len(setup.Generator)
	legs := make([][2]int, setup.Calls)
	for i := range setup.Calls {
		s, err := relay.NewSession(fmt.Sprintf("load-%d", i))
		if err != nil {
			_ = relay.Close()
			return nil, nil, err
		}
		if _, err := s.Offer(media.LegA, endpointSDP(setup.Generator[(2*i)%n])); err != nil {
			_ = relay.Close()
			return nil, nil, err
		}
		if _, err := s.Answer(media.LegB, endpointSDP(setup.Generator[(2*i+1)%n])); err != nil {
			_ = relay.Close()
			return nil, nil, err
		}
		legs[i] = [2]int{int(s.LocalAddr(media.LegA).Port()), int(s.LocalAddr(media.LegB).Port())}
	}
	return relay, legs, nil
}

func endpointSDP(port int) []byte {
	return fmt.Appendf(nil, "v=0\r\no=load 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n", port)
}

// CPUTimes are machine-wide CPU times in clock ticks, by kind, as /proc/stat counts them.
type CPUTimes struct {
	User, System, Idle, SoftIRQ, Steal, Total uint64
}

func (c CPUTimes) sub(o CPUTimes) CPUTimes {
	return CPUTimes{c.User - o.User, c.System - o.System, c.Idle - o.Idle, c.SoftIRQ - o.SoftIRQ, c.Steal - o.Steal, c.Total - o.Total}
}

// String gives each kind as a share of all CPU time.
func (c CPUTimes) String() string {
	if c.Total == 0 {
		return "n/a"
	}
	pct := func(v uint64) float64 { return 100 * float64(v) / float64(c.Total) }
	return fmt.Sprintf("user=%.0f%% sys=%.0f%% softirq=%.0f%% steal=%.0f%% idle=%.0f%%", pct(c.User), pct(c.System), pct(c.SoftIRQ), pct(c.Steal), pct(c.Idle))
}

func readProcStat() CPUTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return CPUTimes{}
	}
	var v [8]uint64
	var c CPUTimes
	for i := range v {
		v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
		c.Total += v[i]
	}
	c.User, c.System, c.Idle, c.SoftIRQ, c.Steal = v[0]+v[1], v[2]+v[5], v[3]+v[4], v[6], v[7]
	return c
}

// drain is how long the relay keeps running after the last packet was sent.
const drain = 300 * time.Millisecond

// udpRcvbufErrors reads the machine's UDP receive-buffer drop counter; 0 if unavailable.
func udpRcvbufErrors() uint64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseUint(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stream is one direction of one call, as the generator sees it.
type stream struct {
	from int // generator socket index
	dst  *net.UDPAddr
	pkt  []byte
	seq  uint16
	ts   uint32
}

// Run performs one load run.
func Run(ctx context.Context, opt Options) (Result, error) {
	if opt.Calls <= 0 || opt.Duration <= 0 {
		return Result{}, errors.New("medialoadtest: calls and duration must be positive")
	}
	if opt.Interval <= 0 {
		opt.Interval = 20 * time.Millisecond
	}
	if opt.Sockets <= 0 {
		opt.Sockets = 32
	}
	socks := make([]*net.UDPConn, opt.Sockets)
	pcs := make([]*ipv4.PacketConn, opt.Sockets)
	ports := make([]int, opt.Sockets)
	for i := range socks {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return Result{}, err
		}
		defer c.Close()
		growBuffers(c)
		socks[i], pcs[i], ports[i] = c, ipv4.NewPacketConn(c), c.LocalAddr().(*net.UDPAddr).Port
	}

	// The relay: a child process speaking the Serve protocol, or one in this process.
	var (
		enc  *json.Encoder
		dec  *json.Decoder
		wait func() error
	)
	setup := setupMsg{Cmd: "setup", Calls: opt.Calls, PortMin: opt.PortMin, PortMax: opt.PortMax, Generator: ports, Engine: int(opt.Engine)}
	if opt.Relay != nil {
		cmd := opt.Relay(ctx)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return Result{}, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return Result{}, err
		}
		if err := cmd.Start(); err != nil {
			return Result{}, err
		}
		enc, dec = json.NewEncoder(stdin), json.NewDecoder(stdout)
		wait = func() error { _ = stdin.Close(); return cmd.Wait() }
		defer func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	} else {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() { err := Serve(inR, outW); _ = outW.CloseWithError(err); done <- err }()
		enc, dec = json.NewEncoder(inW), json.NewDecoder(outR)
		wait = func() error { _ = inW.Close(); return <-done }
		defer func() { _ = inW.Close(); _ = outR.Close() }()
	}
	if err := enc.Encode(setup); err != nil {
		return Result{}, err
	}
	var legs legsMsg
	if err := dec.Decode(&legs); err != nil {
		return Result{}, fmt.Errorf("medialoadtest: relay setup: %w", err)
	}
	if legs.Error != "" {
		return Result{}, fmt.Errorf("medialoadtest: relay setup: %s", legs.Error)
	}

	// Streams: call i sends A->B from socket 2i to leg A's port and B->A from socket 2i+1 to
	// leg B's port. The SSRC is the stream number, so the receiver can count per stream.
	n := opt.Sockets
	streams := make([]stream, 2*opt.Calls)
	for i, l := range legs.Legs {
		for dir := range 2 {
			k := 2*i + dir
			st := &streams[k]
			st.from = k % n
			st.dst = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l[dir]}
			st.pkt = make([]byte, 12+160)
			st.pkt[0], st.pkt[1] = 0x80, 0
			binary.BigEndian.PutUint32(st.pkt[8:], uint32(k))
			for j := 12; j < len(st.pkt); j++ {
				st.pkt[j] = 0xff
			}
		}
	}
	received := make([]atomic.Uint64, len(streams))
	epoch := time.Now()
	hists := make([]latencyHist, len(pcs))
	var wg sync.WaitGroup
	for i := range pcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			receive(pcs[i], received, epoch, &hists[i])
		}()
	}

	if err := enc.Encode(setupMsg{Cmd: "start"}); err != nil {
		return Result{}, err
	}
	rcvbuf0 := udpRcvbufErrors()
	stat0 := readProcStat()
	cpu0 := cpuTime()
	start := time.Now()
	// Two senders, each pacing the streams of half the sockets: one thread alone tops out
	// near 100k packets/s on loopback.
	const senders = 2
	var sent, late atomic.Uint64
	var swg sync.WaitGroup
	for id := range senders {
		swg.Add(1)
		go func() {
			defer swg.Done()
			s, l := send(ctx, pcs, streams, opt, epoch, func(sock int) bool { return sock%senders == id })
			sent.Add(s)
			late.Add(l)
		}()
	}
	swg.Wait()
	elapsed := time.Since(start)
	// Packets still queued in the relay's sockets get a moment to come through before the
	// relay stops; the CPU window of both sides includes this drain.
	time.Sleep(drain)
	window := time.Since(start)
	cpu := cpuTime() - cpu0
	if err := enc.Encode(setupMsg{Cmd: "stop"}); err != nil {
		return Result{}, err
	}
	var st statsMsg
	if err := dec.Decode(&st); err != nil {
		return Result{}, fmt.Errorf("medialoadtest: relay stats: %w", err)
	}
	rcvbuf := udpRcvbufErrors() - rcvbuf0
	stat := readProcStat().sub(stat0)
	for _, c := range socks {
		_ = c.Close()
	}
	wg.Wait()
	if err := wait(); err != nil {
		return Result{}, fmt.Errorf("medialoadtest: relay: %w", err)
	}
	res := Result{
		Calls: opt.Calls, Engine: opt.Engine, Duration: elapsed, Sent: sent.Load(), Late: late.Load(),
		RelayCPU: st.CPU, GeneratorCPU: cpu, Stats: st.Stats,
	}
	for i := range received {
		res.Received += received[i].Load()
	}
	if res.Sent > 0 {
		res.Loss = 1 - float64(res.Received)/float64(res.Sent)
	}
	res.KernelDrops = rcvbuf
	res.Machine = stat
	res.DelayP50, res.DelayP99, res.DelayP999 = quantile(hists, 0.5), quantile(hists, 0.99), quantile(hists, 0.999)
	for i := range hists {
		res.DelayMax = max(res.DelayMax, hists[i].max)
	}
	secs := window.Seconds()
	res.RelayCores = st.CPU.Seconds() / secs
	res.GeneratorCores = cpu.Seconds() / secs
	res.RelayPPS = float64(st.Stats.PacketsRelayed) / elapsed.Seconds()
	if opt.Relay == nil {
		res.RelayCPU, res.RelayCores = cpu, cpu.Seconds()/secs // one process: cannot separate
	}
	return res, nil
}

// growBuffers asks for large socket buffers: one generator socket carries many streams. As
// root SO_RCVBUFFORCE lifts the rmem_max cap; elsewhere the normal request is what we get.
func growBuffers(c *net.UDPConn) {
	const size = 8 << 20
	_ = c.SetReadBuffer(size)
	_ = c.SetWriteBuffer(size)
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size)
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, size)
		})
	}
}

// send paces the streams of the sockets mine selects: the interval is cut into slots, each
// stream sends in its slot of every interval, and each socket's packets of a slot leave in one
// sendmmsg.
func send(ctx context.Context, pcs []*ipv4.PacketConn, streams []stream, opt Options, epoch time.Time, mine func(sock int) bool) (sent, late uint64) {
	const slots = 20
	slot := opt.Interval / slots
	bySlot := make([][][]int, slots) // slot -> socket -> stream indexes
	for s := range bySlot {
		bySlot[s] = make([][]int, len(pcs))
	}
	for k := range streams {
		if !mine(streams[k].from) {
			continue
		}
		s := k % slots
		bySlot[s][streams[k].from] = append(bySlot[s][streams[k].from], k)
	}
	msgs := make([]ipv4.Message, 0, len(streams))
	start := time.Now()
	for tick := 0; ; tick++ {
		due := start.Add(time.Duration(tick) * slot)
		if time.Since(start) >= opt.Duration || ctx.Err() != nil {
			return sent, late
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else if -d > opt.Interval {
			late++
		}
		for sock, ks := range bySlot[tick%slots] {
			msgs = msgs[:0]
			for _, k := range ks {
				st := &streams[k]
				st.seq++
				st.ts += 160
				binary.BigEndian.PutUint16(st.pkt[2:], st.seq)
				binary.BigEndian.PutUint32(st.pkt[4:], st.ts)
				binary.BigEndian.PutUint64(st.pkt[12:], uint64(time.Since(epoch))) // in the payload
				msgs = append(msgs, ipv4.Message{Buffers: [][]byte{st.pkt}, Addr: st.dst})
			}
			for rest := msgs; len(rest) > 0; {
				w, err := pcs[sock].WriteBatch(rest, 0)
				if err != nil {
					break
				}
				sent += uint64(w)
				rest = rest[w:]
			}
		}
	}
}

// latencyHist counts one-way delays (send to receive through the relay) in 100 µs buckets.
type latencyHist struct {
	buckets [10000]uint64 // up to 1 s; the last bucket holds everything above
	max     time.Duration
}

func (h *latencyHist) add(d time.Duration) {
	i := min(int(d/(100*time.Microsecond)), len(h.buckets)-1)
	h.buckets[max(i, 0)]++
	h.max = max(h.max, d)
}

// quantile returns the upper bound of the bucket holding quantile q of all hists.
func quantile(hists []latencyHist, q float64) time.Duration {
	var total uint64
	var sum [10000]uint64
	for i := range hists {
		for b, n := range hists[i].buckets {
			sum[b] += n
			total += n
		}
	}
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var acc uint64
	for b, n := range sum {
		acc += n
		if acc > want {
			return time.Duration(b+1) * 100 * time.Microsecond
		}
	}
	return time.Second
}

// receive counts packets per stream (by SSRC) and their delays until the socket is closed.
func receive(pc *ipv4.PacketConn, received []atomic.Uint64, epoch time.Time, h *latencyHist) {
	const batch = 64
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			return
		}
		for _, m := range msgs[:n] {
			if m.N < 12 {
				continue
			}
			if k := binary.BigEndian.Uint32(m.Buffers[0][8:]); int(k) < len(received) {
				received[k].Add(1)
			}
			if m.N >= 20 {
				h.add(time.Since(epoch) - time.Duration(binary.BigEndian.Uint64(m.Buffers[0][12:])))
			}
		}
	}
}
