package media

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// epollEngine serves all sockets from one epoll loop per CPU. Each session belongs to one
// worker, so a leg's packets are handled by one thread in order (DTMF state, SRTP replay
// windows) without locks. The sockets are level-triggered: one read per readiness event, so
// the usual single packet waiting on a socket costs one recvfrom and no EAGAIN round trip.
//
// Sockets are registered, unregistered and closed by the worker itself, between two batches
// of events: no event of a batch can then name a file descriptor that was closed (or, worse,
// reused by a new session) in the meantime.
type epollEngine struct {
	r       *Relay
	workers []*worker
	next    atomic.Uint32
}

// worker is one epoll loop.
type worker struct {
	r      *Relay
	epfd   int
	evfd   int // eventfd that wakes the loop for control requests
	cb     atomic.Int32
	refs   []sockRef // by file descriptor; only the loop touches it
	st     *readerState
	events []unix.EpollEvent

	mu      sync.Mutex
	adds    []*Session
	removes []*Session
	quit    bool
	stopped bool
}

// sockRef says what a registered descriptor is.
type sockRef struct {
	s    *Session
	x, y *leg
	sock *rawSock
	rtcp bool
}

func newEpollEngine(r *Relay) (engine, error) {
	n := runtime.GOMAXPROCS(0)
	e := &epollEngine{r: r}
	for range n {
		w, err := newWorker(r)
		if err != nil {
			for _, w := range e.workers {
				w.closeFDs()
			}
			return nil, fmt.Errorf("media: epoll engine: %w", err)
		}
		e.workers = append(e.workers, w)
	}
	for _, w := range e.workers {
		r.wg.Add(1)
		go w.loop()
	}
	return e, nil
}

func newWorker(r *Relay) (*worker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(evfd)
		return nil, err
	}
	return &worker{r: r, epfd: epfd, evfd: evfd, st: newReaderState(), events: make([]unix.EpollEvent, 256)}, nil
}

func (w *worker) closeFDs() {
	_ = unix.Close(w.epfd)
	_ = unix.Close(w.evfd)
}

func (e *epollEngine) bind(port int) (udpSock, error) {
	return newRawSock(e.r.cfg.BindIP, port)
}

func (e *epollEngine) start(s *Session) {
	i := int(e.next.Add(1)) % len(e.workers)
	s.eng.worker = i
	w := e.workers[i]
	s.cb = &w.cb
	w.mu.Lock()
	w.adds = append(w.adds, s)
	w.mu.Unlock()
	w.wake()
}

func (e *epollEngine) stop(s *Session) {
	w := e.workers[s.eng.worker]
	w.mu.Lock()
	if w.stopped {
		// The loop is gone (relay closing): nothing reads any more; close here. The epoll
		// descriptor is closed too (its number may be reused), so no EPOLL_CTL_DEL.
		w.mu.Unlock()
		w.unregister(s, false)
		return
	}
	w.removes = append(w.removes, s)
	w.mu.Unlock()
	w.wake()
}

func (e *epollEngine) close() {
	for _, w := range e.workers {
		w.mu.Lock()
		w.quit = true
		w.mu.Unlock()
		w.wake()
	}
}

func (w *worker) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(w.evfd, one[:]) // EAGAIN only if the counter is saturated: already awake
}

func (w *worker) loop() {
	defer w.r.wg.Done()
	defer w.closeFDs()
	for {
		n, err := unix.EpollWait(w.epfd, w.events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			w.r.log.Error("epoll wait failed; media engine worker stops", "err", err)
			w.shutdown()
			return
		}
		control := false
		for i := range n {
			fd := w.events[i].Fd
			if fd == int32(w.evfd) {
				control = true
				continue
			}
			if int(fd) < len(w.refs) && w.refs[fd].s != nil {
				w.serve(&w.refs[fd])
			}
		}
		if control && w.control() {
			return
		}
	}
}

// serve reads one datagram from a ready socket and relays it.
func (w *worker) serve(ref *sockRef) {
	st := w.st
	n, src, err := ref.sock.recvFrom(st.buf)
	if err != nil {
		return // EAGAIN (another reader got it) or a socket error; epoll tells us again
	}
	if ref.s.closed.Load() {
		return // unregistered at the end of this batch; drain meanwhile
	}
	if ref.rtcp {
		ref.s.onRTCPDatagram(ref.x, ref.y, st.buf[:n], src, st)
	} else {
		ref.s.onRTP(ref.x, ref.y, st.buf[:n], src, st)
	}
}

// control registers new sessions and closes stopped ones. It reports whether the loop must end.
func (w *worker) control() bool {
	var buf [8]byte
	_, _ = unix.Read(w.evfd, buf[:])
	w.mu.Lock()
	adds, removes, quit := w.adds, w.removes, w.quit
	w.adds, w.removes = nil, nil
	w.mu.Unlock()
	for _, s := range adds {
		for i := range s.legs {
			x, y := &s.legs[i], &s.legs[1-i]
			w.register(sockRef{s: s, x: x, y: y, sock: x.rtp.sock.(*rawSock)})
			w.register(sockRef{s: s, x: x, y: y, sock: x.rtcp.sock.(*rawSock), rtcp: true})
		}
	}
	for _, s := range removes {
		w.unregister(s, true)
	}
	if quit {
		w.shutdown()
	}
	return quit
}

// shutdown closes whatever is still registered and marks the worker stopped, so later stops
// are handled by the caller.
func (w *worker) shutdown() {
	w.mu.Lock()
	w.stopped = true
	pending := append(w.adds, w.removes...)
	w.adds, w.removes = nil, nil
	w.mu.Unlock()
	for _, s := range pending {
		w.unregister(s, true)
	}
	for fd := range w.refs {
		if s := w.refs[fd].s; s != nil {
			w.unregister(s, true)
		}
	}
}

func (w *worker) register(ref sockRef) {
	fd := ref.sock.fd
	for fd >= len(w.refs) {
		w.refs = append(w.refs, make([]sockRef, len(w.refs)+64)...)
	}
	w.refs[fd] = ref
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.r.log.Error("epoll add failed", "session", ref.s.id, "err", err)
	}
}

// unregister closes a session's sockets and finishes it, once.
func (w *worker) unregister(s *Session, del bool) {
	s.ioMu.Lock()
	if s.eng.finished {
		s.ioMu.Unlock()
		return
	}
	s.eng.finished = true
	for i := range s.legs {
		for _, e := range []*endpoint{&s.legs[i].rtp, &s.legs[i].rtcp} {
			rs := e.sock.(*rawSock)
			if del {
				_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, rs.fd, nil)
			}
			if rs.fd < len(w.refs) && w.refs[rs.fd].s == s {
				w.refs[rs.fd] = sockRef{}
			}
			_ = rs.close()
		}
	}
	s.ioMu.Unlock()
	s.finish()
}
