package prompts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/store"
)

// Limits of a prompt upload.
const (
	MaxUploadBytes    = 16 << 20
	MaxUploadDuration = 5 * time.Minute
)

var (
	// ErrUnknown: no such prompt in the system set (or no such language).
	ErrUnknown = errors.New("prompts: no such prompt")
	// ErrMissing: the prompt is known but its generated file is not there (espeak-ng missing
	// at set-up).
	ErrMissing = errors.New("prompts: prompt not generated")
)

// Library serves prompts: a tenant's uploaded replacement when there is one, else the
// generated system prompt. System prompts are read from the prompt directory once and shared;
// replacements are read from filestore and cached by file id, so a replacement made on
// another node is seen at the next lookup.
type Library struct {
	dir   string
	db    *store.DB
	files *filestore.Store

	mu     sync.RWMutex
	system map[string]*audio.Clip // "lang/name", replaced as a whole by Reload
	cache  map[int64]*audio.Clip  // content file id → clip
}

// Open loads the generated prompts under dir (see Generate). db and files may be nil for a
// library of system prompts only.
func Open(dir string, db *store.DB, files *filestore.Store) (*Library, error) {
	l := &Library{dir: dir, db: db, files: files, cache: map[int64]*audio.Clip{}}
	if err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// Dir is the directory the system prompts are read from.
func (l *Library) Dir() string { return l.dir }

// Reload reads the generated prompts again (after Generate).
func (l *Library) Reload() error {
	system := map[string]*audio.Clip{}
	for _, lang := range Languages {
		for _, name := range Names() {
			b, err := os.ReadFile(Path(l.dir, lang, name))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("prompts: %w", err)
			}
			c, err := audio.ParseClip(b)
			if err != nil {
				return fmt.Errorf("prompts: %s/%s: %w", lang, name, err)
			}
			system[lang+"/"+name] = c
		}
	}
	l.mu.Lock()
	l.system = system
	l.mu.Unlock()
	return nil
}

func (l *Library) systemClip(key string) *audio.Clip {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.system[key]
}

// Missing counts the system prompts that have no generated file.
func (l *Library) Missing() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(Languages)*len(Names()) - len(l.system)
}

// System returns a generated system prompt.
func (l *Library) System(lang, name string) (*audio.Clip, error) {
	if !Known(lang, name) {
		return nil, fmt.Errorf("%w: %s/%s", ErrUnknown, lang, name)
	}
	c := l.systemClip(lang + "/" + name)
	if c == nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrMissing, lang, name)
	}
	return c, nil
}

// Clip returns the prompt a tenant's callers hear: the tenant's replacement, else the system
// prompt.
func (l *Library) Clip(ctx context.Context, tenantID int64, lang, name string) (*audio.Clip, error) {
	if !Valid(lang, name) {
		return nil, fmt.Errorf("%w: %s/%s", ErrUnknown, lang, name)
	}
	if l.db != nil {
		p, err := l.db.TenantPrompt(ctx, tenantID, lang, name)
		switch {
		case err == nil:
			return l.override(ctx, p)
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("prompts: %w", err)
		}
	}
	if IsCustom(name) {
		return nil, fmt.Errorf("%w: the tenant has not uploaded %s/%s", ErrMissing, lang, name)
	}
	return l.System(lang, name)
}

func (l *Library) override(ctx context.Context, p store.TenantPrompt) (*audio.Clip, error) {
	l.mu.RLock()
	c := l.cache[p.FileID]
	l.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	b, _, err := l.files.Get(ctx, p.TenantID, p.FileID)
	if err != nil {
		return nil, fmt.Errorf("prompts: read replacement %s/%s: %w", p.Lang, p.Name, err)
	}
	c, err = audio.ParseClip(b)
	if err != nil {
		return nil, fmt.Errorf("prompts: replacement %s/%s: %w", p.Lang, p.Name, err)
	}
	l.mu.Lock()
	l.cache[p.FileID] = c
	l.mu.Unlock()
	return c, nil
}

// Sound returns the named prompts of a tenant played one after the other.
func (l *Library) Sound(ctx context.Context, tenantID int64, lang string, names ...string) (audio.Sound, error) {
	out := make([]audio.Sound, 0, len(names))
	for _, n := range names {
		c, err := l.Clip(ctx, tenantID, lang, n)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return audio.Sequence(out...), nil
}

// Upload is an uploaded replacement prompt as the caller states it.
type Upload struct {
	// Body is the file; it is read up to the size limit and no further.
	Body io.Reader
	// Raw, when set, accepts headerless 8 kHz G.711 of that law.
	Raw *audio.Codec
}

// Replace checks and converts an uploaded sound and makes it the tenant's version of
// lang/name (a system prompt, or a custom one: see IsCustom). Anything that is not acceptable audio is refused with an error wrapping one of
// the audio.Err… values, and nothing changes. The previous replacement, if any, is deleted in
// the same step (crash-safe: filestore.Recover finishes the deletion).
func (l *Library) Replace(ctx context.Context, tenantID int64, lang, name string, up Upload) (store.TenantPrompt, error) {
	if !Valid(lang, name) {
		return store.TenantPrompt{}, fmt.Errorf("%w: %s/%s", ErrUnknown, lang, name)
	}
	clip, err := audio.ImportClip(up.Body, audio.PCMU, audio.ImportOptions{MaxBytes: MaxUploadBytes, MaxDuration: MaxUploadDuration, Raw: up.Raw})
	if err != nil {
		return store.TenantPrompt{}, fmt.Errorf("prompts: upload for %s/%s refused: %w", lang, name, err)
	}
	now := store.Now()
	p := store.TenantPrompt{TenantID: tenantID, Lang: lang, Name: name, UpdatedAt: now}
	var old *store.ContentFile
	_, err = l.files.Put(ctx, tenantID, nil, filestore.KindPrompt, audio.ClipWAV(clip), now, func(tx *store.DB, f store.ContentFile) error {
		prev, err := tx.TenantPrompt(ctx, tenantID, lang, name)
		if err == nil {
			of, err := tx.ContentFile(ctx, tenantID, prev.FileID)
			if err != nil {
				return err
			}
			// Marked in the same transaction: if Privox stops before the file is gone,
			// filestore.Recover removes it.
			if err := tx.SetContentFileState(ctx, of.ID, store.FileDeleting, 0); err != nil {
				return err
			}
			old = &of
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		p.FileID = f.ID
		return tx.PutTenantPrompt(ctx, p)
	})
	if err != nil {
		return store.TenantPrompt{}, fmt.Errorf("prompts: store replacement: %w", err)
	}
	if old != nil {
		if err := l.files.DeleteRow(ctx, *old); err != nil {
			return p, fmt.Errorf("prompts: remove the previous replacement: %w", err)
		}
		l.mu.Lock()
		delete(l.cache, old.ID)
		l.mu.Unlock()
	}
	return p, nil
}

// Reset deletes the tenant's replacement of lang/name, so callers hear the system prompt again.
// It returns store.ErrNotFound when there is none.
func (l *Library) Reset(ctx context.Context, tenantID int64, lang, name string) error {
	if !Valid(lang, name) {
		return fmt.Errorf("%w: %s/%s", ErrUnknown, lang, name)
	}
	p, err := l.db.TenantPrompt(ctx, tenantID, lang, name)
	if err != nil {
		return err
	}
	// Deleting the file row removes the tenant_prompts row with it (ON DELETE CASCADE).
	if err := l.files.Delete(ctx, tenantID, p.FileID); err != nil {
		return fmt.Errorf("prompts: delete replacement: %w", err)
	}
	l.mu.Lock()
	delete(l.cache, p.FileID)
	l.mu.Unlock()
	return nil
}

// Entry describes one prompt for listings.
type Entry struct {
	Lang     string `json:"lang"`
	Name     string `json:"name"`
	Text     string `json:"text"`
	Replaced bool   `json:"replaced"`
	// Generated says whether the system version exists (espeak-ng ran at set-up).
	Generated  bool  `json:"generated"`
	DurationMS int64 `json:"duration_ms,omitempty"`
	UpdatedAt  int64 `json:"updated_at,omitempty"`
}

// List returns every system prompt with whether the tenant replaced it, then the tenant's
// custom prompts.
func (l *Library) List(ctx context.Context, tenantID int64) ([]Entry, error) {
	repl := map[string]store.TenantPrompt{}
	if l.db != nil {
		ps, err := l.db.TenantPrompts(ctx, tenantID)
		if err != nil {
			return nil, fmt.Errorf("prompts: %w", err)
		}
		for _, p := range ps {
			repl[p.Lang+"/"+p.Name] = p
		}
	}
	var out []Entry
	for _, lang := range Languages {
		for _, name := range Names() {
			text, _ := Text(lang, name)
			e := Entry{Lang: lang, Name: name, Text: text}
			if c := l.systemClip(lang + "/" + name); c != nil {
				e.Generated = true
				e.DurationMS = c.Duration().Milliseconds()
			}
			if p, ok := repl[lang+"/"+name]; ok {
				e.Replaced, e.UpdatedAt = true, p.UpdatedAt
			}
			out = append(out, e)
		}
	}
	var custom []Entry
	for _, p := range repl {
		if IsCustom(p.Name) {
			custom = append(custom, Entry{Lang: p.Lang, Name: p.Name, Replaced: true, UpdatedAt: p.UpdatedAt})
		}
	}
	sort.Slice(custom, func(i, j int) bool {
		return custom[i].Lang+"/"+custom[i].Name < custom[j].Lang+"/"+custom[j].Name
	})
	out = append(out, custom...)
	return out, nil
}
