// Package directory owns the contact directory: company, group and personal phonebooks and
// their contacts (through store), number normalisation to E.164, the in-memory search index per
// tenant (name prefix, substring, phonetic, number), caller-ID name lookup, CSV and vCard
// import and export. Search queries and results are never stored or logged (the
// directory_queries category): only anonymous counters leave a search.
package directory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/privox/privox/internal/store"
)

// Service is the directory of every tenant: writes go through it to the store and into the
// tenant's index in the same call.
type Service struct {
	db  *store.DB
	log *slog.Logger

	mu      sync.RWMutex
	tenants map[int64]*Index
	country sync.Map // tenant id → country code

	searches *prometheus.CounterVec
	lookups  *prometheus.CounterVec

	// StoreOnly writes without keeping an index (command-line imports: the server's own
	// directory reconciles with the store).
	StoreOnly bool
}

// New returns an empty directory; Load fills it from the store.
func New(db *store.DB, logger *slog.Logger, reg prometheus.Registerer) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Service{db: db, log: logger, tenants: map[int64]*Index{},
		searches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "privox_directory_searches_total",
			Help: "Directory searches by interface and whether anything was found (no query is kept)."}, []string{"via", "found"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "privox_directory_callerid_lookups_total",
			Help: "Caller-ID name lookups by whether a name was found."}, []string{"found"}),
	}
	if reg != nil {
		reg.MustRegister(s.searches, s.lookups)
	}
	return s
}

// Load builds every tenant's index from the store.
func (s *Service) Load(ctx context.Context) error {
	books, err := s.db.ListPhonebooks(ctx, 0)
	if err != nil {
		return fmt.Errorf("directory: load phonebooks: %w", err)
	}
	fresh := map[int64]*Index{}
	get := func(tid int64) *Index {
		ix := fresh[tid]
		if ix == nil {
			ix = newIndex()
			fresh[tid] = ix
		}
		return ix
	}
	for _, b := range books {
		get(b.TenantID).setBook(b)
	}
	srcs, err := s.db.ListDirectorySources(ctx, 0)
	if err != nil {
		return fmt.Errorf("directory: load sources: %w", err)
	}
	for _, src := range srcs {
		get(src.TenantID).setPriority(src.PhonebookID, src.Priority)
	}
	err = s.db.EachContact(ctx, 0, func(c store.Contact) error {
		get(c.TenantID).put(c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("directory: load contacts: %w", err)
	}
	for _, ix := range fresh {
		ix.commit()
	}
	s.mu.Lock()
	s.tenants = fresh
	s.mu.Unlock()
	return nil
}

// Reload rebuilds one tenant's index from the store (after the privacy engine erased or
// swept rows behind the directory's back).
func (s *Service) Reload(ctx context.Context, tenantID int64) error {
	books, err := s.db.ListPhonebooks(ctx, tenantID)
	if err != nil {
		return err
	}
	ix := newIndex()
	for _, b := range books {
		ix.setBook(b)
	}
	srcs, err := s.db.ListDirectorySources(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, src := range srcs {
		ix.setPriority(src.PhonebookID, src.Priority)
	}
	if err := s.db.EachContact(ctx, tenantID, func(c store.Contact) error { ix.put(c); return nil }); err != nil {
		return err
	}
	ix.commit()
	s.mu.Lock()
	s.tenants[tenantID] = ix
	s.mu.Unlock()
	return nil
}

// Index returns a tenant's index (an empty one for a tenant without phonebooks).
func (s *Service) Index(tenantID int64) *Index {
	s.mu.RLock()
	ix := s.tenants[tenantID]
	s.mu.RUnlock()
	if ix != nil {
		return ix
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix = s.tenants[tenantID]; ix == nil {
		ix = newIndex()
		s.tenants[tenantID] = ix
	}
	return ix
}

// Country returns the tenant's country code for number normalisation.
func (s *Service) Country(ctx context.Context, tenantID int64) (string, error) {
	if v, ok := s.country.Load(tenantID); ok {
		return v.(string), nil
	}
	c, err := s.db.TenantCountry(ctx, tenantID)
	if err != nil {
		return "", err
	}
	s.country.Store(tenantID, c)
	return c, nil
}

// SetCountry changes the tenant's country; numbers are normalised again.
func (s *Service) SetCountry(ctx context.Context, tenantID int64, country string) error {
	country = strings.ToUpper(strings.TrimSpace(country))
	if !ValidCountry(country) {
		return fmt.Errorf("%w: unknown country code %q", ErrInvalid, country)
	}
	if err := s.db.SetTenantCountry(ctx, tenantID, country); err != nil {
		return err
	}
	s.country.Store(tenantID, country)
	books, err := s.db.ListPhonebooks(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, b := range books {
		var all []store.Contact
		if err := s.db.EachContact(ctx, tenantID, func(c store.Contact) error {
			if c.PhonebookID == b.ID {
				normalizeContact(&c, country)
				all = append(all, c)
			}
			return nil
		}); err != nil {
			return err
		}
		if _, err := s.db.UpsertContacts(ctx, tenantID, b.ID, b.OwnerUserID, all); err != nil {
			return err
		}
	}
	return s.Reload(ctx, tenantID)
}

// ErrInvalid marks input the directory refuses; the message says why.
var ErrInvalid = errors.New("invalid")

// normalizeContact fills the E.164 forms of a contact's numbers and its display name.
func normalizeContact(c *store.Contact, country string) {
	in, out := c.Numbers.Slots(), c.E164.Slots()
	for i := range in {
		*in[i] = strings.TrimSpace(*in[i])
		*out[i] = Normalize(*in[i], country)
	}
	if c.DisplayName == "" {
		c.DisplayName = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Company
	}
}

// CheckContact reports what makes a contact unusable.
func CheckContact(c *store.Contact) error {
	if strings.TrimSpace(c.DisplayName+c.GivenName+c.FamilyName+c.Company) == "" {
		return fmt.Errorf("%w: a contact needs a name or a company", ErrInvalid)
	}
	for i, p := range c.Numbers.Slots() {
		if len(*p) > 64 {
			return fmt.Errorf("%w: number %s is longer than 64 characters", ErrInvalid, store.NumberTypes[i])
		}
	}
	return nil
}

// CreatePhonebook adds a phonebook.
func (s *Service) CreatePhonebook(ctx context.Context, b store.Phonebook) (store.Phonebook, error) {
	switch b.Kind {
	case store.BookCompany:
		b.OwnerUserID, b.Members = nil, nil
	case store.BookGroup, store.BookPersonal:
		if b.OwnerUserID == nil {
			return b, fmt.Errorf("%w: a %s phonebook needs an owner", ErrInvalid, b.Kind)
		}
		if b.Kind == store.BookPersonal {
			b.Members = nil
		}
	default:
		return b, fmt.Errorf("%w: kind must be company, group or personal", ErrInvalid)
	}
	if strings.TrimSpace(b.Name) == "" {
		return b, fmt.Errorf("%w: a phonebook needs a name", ErrInvalid)
	}
	b, err := s.db.CreatePhonebook(ctx, b)
	if err != nil {
		return b, err
	}
	ix := s.Index(b.TenantID)
	ix.mu.Lock()
	ix.setBook(b)
	ix.mu.Unlock()
	return b, nil
}

// UpdatePhonebook changes a phonebook's name and members.
func (s *Service) UpdatePhonebook(ctx context.Context, b store.Phonebook) error {
	if b.Kind == store.BookPersonal {
		b.Members = nil
	}
	if err := s.db.UpdatePhonebook(ctx, b); err != nil {
		return err
	}
	ix := s.Index(b.TenantID)
	ix.mu.Lock()
	ix.setBook(b)
	ix.mu.Unlock()
	return nil
}

// DeletePhonebook removes a phonebook and its contacts.
func (s *Service) DeletePhonebook(ctx context.Context, tenantID, id int64) error {
	if err := s.db.DeletePhonebook(ctx, tenantID, id); err != nil {
		return err
	}
	ix := s.Index(tenantID)
	ix.mu.Lock()
	for cid, slot := range ix.byID {
		if ix.entries[slot].PhonebookID == id {
			ix.remove(cid)
		}
	}
	delete(ix.books, id)
	ix.mu.Unlock()
	return nil
}

// SaveContact creates (ID 0) or updates a contact of a phonebook, normalising its numbers.
func (s *Service) SaveContact(ctx context.Context, book store.Phonebook, c store.Contact) (store.Contact, error) {
	country, err := s.Country(ctx, book.TenantID)
	if err != nil {
		return c, err
	}
	normalizeContact(&c, country)
	if err := CheckContact(&c); err != nil {
		return c, err
	}
	c.TenantID, c.PhonebookID, c.OwnerUserID = book.TenantID, book.ID, book.OwnerUserID
	if c.ID == 0 {
		if c.Key == "" {
			c.Key = newKey()
		}
		c, err = s.db.CreateContact(ctx, c)
	} else {
		c, err = s.db.UpdateContact(ctx, c)
	}
	if err != nil {
		return c, err
	}
	ix := s.Index(c.TenantID)
	ix.mu.Lock()
	ix.put(c)
	ix.commit()
	ix.mu.Unlock()
	return c, nil
}

// DeleteContact removes a contact.
func (s *Service) DeleteContact(ctx context.Context, tenantID, id int64) error {
	if err := s.db.DeleteContact(ctx, tenantID, id); err != nil {
		return err
	}
	ix := s.Index(tenantID)
	ix.mu.Lock()
	ix.remove(id)
	ix.mu.Unlock()
	return nil
}

// Upsert writes many contacts of one phonebook (imports, syncs): numbers normalised, new keys
// inserted, known keys updated, all in one transaction, then indexed.
func (s *Service) Upsert(ctx context.Context, book store.Phonebook, cs []store.Contact) ([]store.Contact, error) {
	country, err := s.Country(ctx, book.TenantID)
	if err != nil {
		return nil, err
	}
	normalizeAll(cs, country)
	return s.upsert(ctx, book, cs)
}

// normalizeAll normalises contacts on every core (number parsing is the costly part of a
// large import).
func normalizeAll(cs []store.Contact, country string) {
	n := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	chunk := (len(cs) + n - 1) / n
	for lo := 0; lo < len(cs); lo += chunk {
		hi := min(lo+chunk, len(cs))
		wg.Add(1)
		go func(part []store.Contact) {
			defer wg.Done()
			for i := range part {
				normalizeContact(&part[i], country)
			}
		}(cs[lo:hi])
	}
	wg.Wait()
}

// upsert writes contacts that are already normalised and indexes them.
func (s *Service) upsert(ctx context.Context, book store.Phonebook, cs []store.Contact) ([]store.Contact, error) {
	out, err := s.db.UpsertContacts(ctx, book.TenantID, book.ID, book.OwnerUserID, cs)
	if err != nil || s.StoreOnly {
		return out, err
	}
	ix := s.Index(book.TenantID)
	ix.mu.Lock()
	for _, c := range out {
		ix.put(c)
	}
	ix.commit()
	ix.mu.Unlock()
	return out, nil
}

// RemoveExcept deletes a phonebook's contacts whose keys are not in keep (a source's
// vanished entries).
func (s *Service) RemoveExcept(ctx context.Context, book store.Phonebook, keep map[string]bool) (int, error) {
	gone, err := s.db.DeleteContactsExcept(ctx, book.TenantID, book.ID, keep)
	if err != nil {
		return 0, err
	}
	ix := s.Index(book.TenantID)
	ix.mu.Lock()
	for _, id := range gone {
		ix.remove(id)
	}
	ix.mu.Unlock()
	return len(gone), nil
}

// Search runs a search for a viewer in a tenant; via names the interface for the counters.
func (s *Service) Search(ctx context.Context, tenantID int64, v Viewer, q string, limit int, via string) ([]Hit, error) {
	country, err := s.Country(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	hits := s.Index(tenantID).Search(q, country, v, limit)
	s.Count(via, len(hits) > 0)
	return hits, nil
}

// Count adds one search to the anonymous counters.
func (s *Service) Count(via string, found bool) {
	f := "no"
	if found {
		f = "yes"
	}
	s.searches.WithLabelValues(via, f).Inc()
}

// CallerName returns the directory's name for a calling number as the called user sees it
// (calleeUser 0: company phonebooks only). The number may be in any form the tenant's
// country allows. It never blocks on the store once the country is known.
func (s *Service) CallerName(tenantID int64, number string, calleeUser int64) (string, bool) {
	e := number
	if !strings.HasPrefix(e, "+") || !isDigits(e[1:]) {
		country, _ := s.Country(context.Background(), tenantID)
		if e = Normalize(number, country); e == "" {
			e = digits(number)
		}
	}
	name, ok := s.Index(tenantID).CallerName(e, calleeUser)
	if !ok && strings.HasPrefix(e, "+") && e != number {
		// Entered as an internal number that happens to normalise too ("1001").
		name, ok = s.Index(tenantID).CallerName(digits(number), calleeUser)
	}
	if ok {
		s.lookups.WithLabelValues("yes").Inc()
	} else {
		s.lookups.WithLabelValues("no").Inc()
	}
	return name, ok
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// newKey returns a stable key for an entry created without one.
func newKey() string {
	var b [12]byte
	rand.Read(b[:])
	return "p-" + hex.EncodeToString(b[:])
}

// Reconcile reloads the tenants whose contacts in the store no longer match the index in
// number or latest change (rows the privacy engine erased or swept directly, imports made
// with the command line while Privox runs).
func (s *Service) Reconcile(ctx context.Context) error {
	stats, err := s.db.ContactStats(ctx)
	if err != nil {
		return err
	}
	s.mu.RLock()
	var stale []int64
	for tid, ix := range s.tenants {
		ix.mu.RLock()
		n, upd := int64(len(ix.byID)), ix.maxUpdated
		ix.mu.RUnlock()
		if n != stats[tid][0] || upd < stats[tid][1] {
			stale = append(stale, tid)
		}
	}
	for tid, st := range stats {
		if _, ok := s.tenants[tid]; !ok && st[0] > 0 {
			stale = append(stale, tid)
		}
	}
	s.mu.RUnlock()
	for _, tid := range stale {
		if err := s.Reload(ctx, tid); err != nil {
			return err
		}
	}
	return nil
}

// SetSourcePriority records a new source's priority on its phonebook's index entry.
func (s *Service) SetSourcePriority(tenantID, bookID int64, prio int) {
	ix := s.Index(tenantID)
	ix.mu.Lock()
	ix.setPriority(bookID, prio)
	ix.mu.Unlock()
}
