package media

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/store"
)

// maxGap is the longest hole in a leg's RTP timestamps that a recording fills with silence; a
// larger jump (a new stream after a re-INVITE, a sender's bug) is recorded as contiguous.
const maxGap = 2 * audio.Rate

// Recorder collects one leg's audio and saves it as one encrypted content file. It keeps the
// audio in memory, bounded by its length limit, and writes nothing until Save: the file appears
// complete, together with the row that references it, or not at all (filestore.Put), even if
// Privox stops in the middle of a call. Write methods may be called from the leg's receive path
// while another goroutine calls Save.
type Recorder struct {
	mu      sync.Mutex
	codec   audio.Codec
	data    []byte
	limit   int
	full    bool
	saved   bool
	haveTS  bool
	nextTS  uint32
	scratch [audio.FrameSamples]byte
}

// NewRecorder returns a recorder that stores G.711 of law c, at most limit long.
func NewRecorder(c audio.Codec, limit time.Duration) *Recorder {
	n := audio.Samples(limit)
	return &Recorder{codec: c, limit: n, data: make([]byte, 0, min(n, 60*audio.Rate))}
}

// WritePCM appends 8 kHz PCM.
func (r *Recorder) WritePCM(pcm []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(pcm) > 0 && !r.full && !r.saved {
		n := min(len(pcm), len(r.scratch))
		r.codec.Encode(r.scratch[:n], pcm[:n])
		r.appendLocked(r.scratch[:n])
		pcm = pcm[n:]
	}
}

// WriteRTP appends the payload of one received RTP packet of payload type pt (0 PCMU, 8 PCMA;
// other types, such as telephone-events and comfort noise, are ignored) with RTP timestamp ts.
// Gaps in the timestamps up to two seconds become silence; late and repeated packets are
// dropped.
func (r *Recorder) WriteRTP(pt uint8, ts uint32, payload []byte) {
	c := audio.Codec(pt)
	if !c.Valid() || len(payload) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full || r.saved {
		return
	}
	if r.haveTS {
		d := int32(ts - r.nextTS)
		if d < 0 {
			return
		}
		if d > 0 && d <= maxGap {
			for left := int(d); left > 0 && !r.full; {
				n := min(left, len(r.scratch))
				for i := range r.scratch[:n] {
					r.scratch[i] = r.codec.Silence()
				}
				r.appendLocked(r.scratch[:n])
				left -= n
			}
		}
	}
	r.haveTS, r.nextTS = true, ts+uint32(len(payload))
	for len(payload) > 0 && !r.full {
		n := min(len(payload), len(r.scratch))
		audio.Transcode(c, r.codec, r.scratch[:n], payload[:n])
		r.appendLocked(r.scratch[:n])
		payload = payload[n:]
	}
}

func (r *Recorder) appendLocked(b []byte) {
	room := r.limit - len(r.data)
	if len(b) >= room {
		b = b[:room]
		r.full = true
	}
	r.data = append(r.data, b...)
}

// Duration is how much audio the recorder holds.
func (r *Recorder) Duration() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return audio.Duration(len(r.data))
}

// Full reports whether the length limit was reached (later audio is dropped).
func (r *Recorder) Full() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.full
}

// Clip returns a copy of the audio recorded so far.
func (r *Recorder) Clip() *audio.Clip {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &audio.Clip{Codec: r.codec, Data: append([]byte(nil), r.data...)}
}

// Save stores the recording as a G.711 WAV content file of the given kind (a kind declared in
// filestore, such as filestore.KindVoicemail or KindRecording) owned by the tenant and, when
// userID is not nil, the user, encrypted with the owner's key. link runs in the transaction that
// makes the file ready, so the caller's row referencing it appears with it. A recorder saves
// once; later writes are ignored.
func (r *Recorder) Save(ctx context.Context, files *filestore.Store, tenantID int64, userID *int64, kind string, link func(tx *store.DB, f store.ContentFile) error) (store.ContentFile, error) {
	r.mu.Lock()
	if r.saved {
		r.mu.Unlock()
		return store.ContentFile{}, fmt.Errorf("media: recording already saved")
	}
	r.saved = true
	clip := &audio.Clip{Codec: r.codec, Data: r.data}
	r.mu.Unlock()
	if len(clip.Data) == 0 {
		return store.ContentFile{}, fmt.Errorf("media: save recording: %w", audio.ErrEmpty)
	}
	f, err := files.Put(ctx, tenantID, userID, kind, audio.ClipWAV(clip), store.Now(), link)
	if err != nil {
		return f, fmt.Errorf("media: save recording: %w", err)
	}
	return f, nil
}
