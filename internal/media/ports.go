package media

import (
	"errors"
	"fmt"
	"sync"
)

// ErrNoPorts is returned by [Relay.NewSession] when the port range has no free pair left.
var ErrNoPorts = errors.New("media: RTP port range exhausted")

// portPool hands out even RTP ports (with their odd RTCP port) in FIFO order, so that a port
// freed by a finished call is reused as late as possible: stray packets of the old call then
// have the least chance of reaching a new one.
type portPool struct {
	mu    sync.Mutex
	ring  []int // free even ports, a ring buffer of len(ring) == total
	head  int
	count int
	total int
}

func newPortPool(min, max int) *portPool {
	first := min
	if first%2 != 0 {
		first++
	}
	var ports []int
	for p := first; p+1 <= max; p += 2 {
		ports = append(ports, p)
	}
	return &portPool{ring: ports, count: len(ports), total: len(ports)}
}

func (p *portPool) inUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return 2 * (p.total - p.count)
}

// put returns an even port to the back of the queue.
func (p *portPool) put(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ring[(p.head+p.count)%len(p.ring)] = port
	p.count++
}

// take pops the oldest free port.
func (p *portPool) take() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count == 0 {
		return 0, false
	}
	port := p.ring[p.head]
	p.head = (p.head + 1) % len(p.ring)
	p.count--
	return port, true
}

// bindPair takes a free even port and binds RTP on it and RTCP on the next port. A port that
// another process holds is put back at the end of the queue and the next one is tried, at most
// once around the whole range.
func (p *portPool) bindPair(bind func(port int) (udpSock, error)) (port int, rtpSock, rtcpSock udpSock, err error) {
	p.mu.Lock()
	tries := p.count
	p.mu.Unlock()
	var lastErr error
	for range tries {
		port, ok := p.take()
		if !ok {
			break
		}
		rtpSock, err := bind(port)
		if err != nil {
			lastErr = err
			p.put(port)
			continue
		}
		rtcpSock, err := bind(port + 1)
		if err != nil {
			lastErr = err
			_ = rtpSock.close()
			p.put(port)
			continue
		}
		return port, rtpSock, rtcpSock, nil
	}
	if lastErr != nil {
		return 0, nil, nil, fmt.Errorf("%w (last bind error: %v)", ErrNoPorts, lastErr)
	}
	return 0, nil, nil, ErrNoPorts
}
