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
	"os/exec"
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
	// Relay starts the child process that runs Serve; nil runs the relay in this process (then
	// RelayCPU is the whole process's, generator included).
	Relay func(ctx context.Context) *exec.Cmd
}

// Result is what a run measured.
type Result struct {
	Calls    int
	Duration time.Duration // of the sending phase
	// Sent and Received count RTP packets at the generator; Loss is 1-Received/Sent.
	Sent, Received uint64
	Loss           float64
	// Late counts send slots the generator missed by more than one interval (the generator,
	// not the relay, was behind).
	Late uint64
	// RelayCPU is the user+system CPU time of the relay process during the sending phase and
	// RelayCores that time divided by the phase's duration (1.0 = one core busy).
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
	return fmt.Sprintf("calls=%d streams=%d duration=%s sent=%d received=%d loss=%.4f%% late=%d relayed=%.0f pkt/s relay_cpu=%.2f cores (%.1f%% of 2) generator_cpu=%.2f cores dropped=%d",
		r.Calls, 2*r.Calls, r.Duration, r.Sent, r.Received, 100*r.Loss, r.Late, r.RelayPPS, r.RelayCores, 50*r.RelayCores, r.GeneratorCores, r.Stats.PacketsDropped)
}

// control messages between Run and Serve, one JSON object per line.
type setupMsg struct {
	Cmd       string `json:"cmd"` // "setup", "start", "stop"
	Calls     int    `json:"calls"`
	PortMin   int    `json:"port_min"`
	PortMax   int    `json:"port_max"`
	Generator []int  `json:"generator"` // generator socket ports on 127.0.0.1
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
	setup := setupMsg{Cmd: "setup", Calls: opt.Calls, PortMin: opt.PortMin, PortMax: opt.PortMax, Generator: ports}
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
	var wg sync.WaitGroup
	for i := range pcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			receive(pcs[i], received)
		}()
	}

	if err := enc.Encode(setupMsg{Cmd: "start"}); err != nil {
		return Result{}, err
	}
	cpu0 := cpuTime()
	start := time.Now()
	sent, late := send(ctx, pcs, streams, opt)
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if err := enc.Encode(setupMsg{Cmd: "stop"}); err != nil {
		return Result{}, err
	}
	var st statsMsg
	if err := dec.Decode(&st); err != nil {
		return Result{}, fmt.Errorf("medialoadtest: relay stats: %w", err)
	}
	// Packets still in flight when the stop arrived get a moment to land.
	time.Sleep(200 * time.Millisecond)
	for _, c := range socks {
		_ = c.Close()
	}
	wg.Wait()
	if err := wait(); err != nil {
		return Result{}, fmt.Errorf("medialoadtest: relay: %w", err)
	}
	res := Result{
		Calls: opt.Calls, Duration: elapsed, Sent: sent, Late: late,
		RelayCPU: st.CPU, GeneratorCPU: cpu, Stats: st.Stats,
	}
	for i := range received {
		res.Received += received[i].Load()
	}
	if sent > 0 {
		res.Loss = 1 - float64(res.Received)/float64(sent)
	}
	secs := elapsed.Seconds()
	res.RelayCores = st.CPU.Seconds() / secs
	res.GeneratorCores = cpu.Seconds() / secs
	res.RelayPPS = float64(st.Stats.PacketsRelayed) / secs
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

// send paces all streams: the interval is cut into slots, each stream sends in its slot of
// every interval, and each socket's packets of a slot leave in one sendmmsg.
func send(ctx context.Context, pcs []*ipv4.PacketConn, streams []stream, opt Options) (sent, late uint64) {
	const slots = 20
	slot := opt.Interval / slots
	bySlot := make([][][]int, slots) // slot -> socket -> stream indexes
	for s := range bySlot {
		bySlot[s] = make([][]int, len(pcs))
	}
	for k := range streams {
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

// receive counts packets per stream (by SSRC) until the socket is closed.
func receive(pc *ipv4.PacketConn, received []atomic.Uint64) {
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
		}
	}
}
