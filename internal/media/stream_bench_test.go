package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
)

// benchPrompt is a 3 s speech-like clip (two moving tones in noise), so that the DTMF detector
// runs its filters on every block instead of skipping silence.
func benchPrompt() *audio.Clip {
	pcm := make([]int16, 3*audio.Rate)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range pcm {
		t := float64(i) / audio.Rate
		v := 3000*sin(2*3.14159*(300+200*sin(2*3.14159*t))*t) + 1500*sin(2*3.14159*1100*t) + float64(rng.IntN(2000)-1000)
		pcm[i] = int16(v)
	}
	return audio.NewClip(audio.PCMA, pcm)
}

func sin(x float64) float64 { return math.Sin(x) }

// BenchmarkAppStreamCPU is the per-stream CPU of an application call: one op is one 20 ms frame
// of a looping prompt read, encoded and stamped as RTP (Send discards it), plus one received
// frame decoded and run through the in-band DTMF detector. ns/op × 50 is the CPU one call
// costs per second.
func BenchmarkAppStreamCPU(b *testing.B) {
	clip := benchPrompt()
	p := NewPacer(PacerConfig{})
	s, err := p.Open(StreamConfig{Codec: audio.PCMU, Send: func([]byte) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Play(audio.Loop(clip, 0)); err != nil {
		b.Fatal(err)
	}
	det := audio.NewDTMFDetector(audio.DTMFOptions{})
	in := clip.Data
	pcm := make([]int16, audio.FrameSamples)
	b.ReportAllocs()
	cpu0 := processCPU()
	var period int64
	off := 0
	for b.Loop() {
		s.tick(period)
		period++
		audio.PCMA.Decode(pcm, in[off:off+audio.FrameSamples])
		off = (off + audio.FrameSamples) % (len(in) - audio.FrameSamples)
		if det.Feed(pcm) != 0 {
			b.Fatal("digit in the prompt")
		}
	}
	// Process CPU time, not wall time: on a shared machine the wall clock counts other
	// people's work too.
	cpuPerOp := float64((processCPU() - cpu0).Nanoseconds()) / float64(b.N)
	b.ReportMetric(cpuPerOp, "cpu-ns/frame")
	b.ReportMetric(cpuPerOp*50/1e6, "cpu-ms/call-second")
}

// BenchmarkAppStreamsLateness runs 100 and 1,500 application calls in real time for two seconds per op:
// one pacer sends each call's looping prompt as RTP to a real loopback socket, and a receiver
// goroutine decodes every packet and runs one DTMF detector per call on it, as the receive
// path of an application does. It reports the share of packets handed over more than 5 ms late
// (the benchmark target is below 0.1 %) and the worst lateness.
func BenchmarkAppStreamsLateness(b *testing.B) {
	for _, calls := range []int{100, 1500} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("calls=%d/workers=%d", calls, workers), func(b *testing.B) { benchLateness(b, calls, workers) })
		}
	}
}

func benchLateness(b *testing.B, calls, workers int) {
	clip := benchPrompt()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	_ = sink.SetReadBuffer(8 << 20)
	src, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	_ = src.SetWriteBuffer(8 << 20)
	var wg sync.WaitGroup
	var received, digits uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		dets := map[uint32]*audio.DTMFDetector{}
		buf := make([]byte, 2048)
		pcm := make([]int16, audio.FrameSamples)
		for {
			n, err := sink.Read(buf)
			if err != nil {
				return
			}
			if n != 12+audio.FrameSamples {
				continue
			}
			ssrc := binary.BigEndian.Uint32(buf[8:])
			d := dets[ssrc]
			if d == nil {
				d = audio.NewDTMFDetector(audio.DTMFOptions{})
				dets[ssrc] = d
			}
			audio.Codec(buf[1]&0x7f).Decode(pcm, buf[12:n])
			if d.Feed(pcm) != 0 {
				digits++
			}
			received++
		}
	}()
	p := NewPacer(PacerConfig{Workers: workers})
	p.Start()
	streams := make([]*Stream, 0, calls)
	for i := 0; i < calls; i++ {
		s, err := p.Open(StreamConfig{Codec: audio.PCMA, Send: func(pkt []byte) error {
			_, err := src.Write(pkt)
			return err
		}})
		if err != nil {
			b.Fatal(err)
		}
		// Each call starts the prompt at another point so that the load is not synchronous.
		skip := audio.Silence(time.Duration(i%150) * audio.FrameDuration)
		if _, err := s.Play(audio.Sequence(skip, audio.Loop(clip, 0))); err != nil {
			b.Fatal(err)
		}
		streams = append(streams, s)
	}
	time.Sleep(time.Second) // warm-up: all streams placed and running
	before := p.Stats()
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		time.Sleep(2 * time.Second)
	}
	b.StopTimer()
	after := p.Stats()
	cpu := processCPU() - cpu0
	for _, s := range streams {
		s.Close()
	}
	p.Stop()
	sink.Close()
	wg.Wait()
	pk := after.Packets - before.Packets
	late := after.Late - before.Late
	if pk == 0 {
		b.Fatal(errors.New("no packets"))
	}
	b.ReportMetric(float64(pk)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(100*float64(late)/float64(pk), "%late>5ms")
	b.ReportMetric(float64(after.MaxLate.Microseconds())/1000, "max-late-ms")
	b.ReportMetric(float64(after.Skipped-before.Skipped), "skipped")
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
	b.ReportMetric(float64(received)/float64(after.Packets)*100, "%received")
	if digits != 0 {
		b.Fatalf("%d digits detected in prompts", digits)
	}
}

// processCPU is the user and system CPU time the test process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
