package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/privox/privox/internal/datacat"
)

// Phonebooks and their contacts (contacts category, SPEC §2). A company phonebook belongs to
// the tenant (owner_user_id NULL) and stays until deleted; a personal phonebook belongs to its
// owner, a group phonebook to the user who keeps it, and their entries carry the same owner
// (contacts.owner_user_id) so that export and erasure of that person take them along.

func init() {
	addMigration("0400_directory", `
ALTER TABLE tenants ADD COLUMN country TEXT NOT NULL DEFAULT '';
CREATE TABLE phonebooks (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	kind TEXT NOT NULL,
	name TEXT NOT NULL,
	owner_user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL
);
CREATE INDEX phonebooks_tenant ON phonebooks(tenant_id, owner_user_id);
CREATE TABLE phonebook_members (
	phonebook_id BIGINT NOT NULL REFERENCES phonebooks(id) ON DELETE CASCADE,
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (phonebook_id, user_id)
);
CREATE TABLE contacts (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	phonebook_id BIGINT NOT NULL REFERENCES phonebooks(id) ON DELETE CASCADE,
	owner_user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
	ext_key TEXT NOT NULL,
	display_name TEXT NOT NULL DEFAULT '',
	given_name TEXT NOT NULL DEFAULT '',
	family_name TEXT NOT NULL DEFAULT '',
	company TEXT NOT NULL DEFAULT '',
	department TEXT NOT NULL DEFAULT '',
	title TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	street TEXT NOT NULL DEFAULT '',
	city TEXT NOT NULL DEFAULT '',
	postal_code TEXT NOT NULL DEFAULT '',
	region TEXT NOT NULL DEFAULT '',
	country TEXT NOT NULL DEFAULT '',
	notes TEXT NOT NULL DEFAULT '',
	tel_work TEXT NOT NULL DEFAULT '',
	tel_mobile TEXT NOT NULL DEFAULT '',
	tel_home TEXT NOT NULL DEFAULT '',
	tel_fax TEXT NOT NULL DEFAULT '',
	tel_other TEXT NOT NULL DEFAULT '',
	e164_work TEXT NOT NULL DEFAULT '',
	e164_mobile TEXT NOT NULL DEFAULT '',
	e164_home TEXT NOT NULL DEFAULT '',
	e164_fax TEXT NOT NULL DEFAULT '',
	e164_other TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_book_key ON contacts(phonebook_id, ext_key);
CREATE INDEX contacts_tenant ON contacts(tenant_id, id);
CREATE INDEX contacts_owner ON contacts(tenant_id, owner_user_id);
`)
	datacat.RegisterTable(datacat.Table{Name: "phonebooks", Category: datacat.Contacts, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "owner_user_id",
		Purpose: "Company, group and personal phonebooks; personal and group ones name their owner"})
	datacat.RegisterTable(datacat.Table{Name: "phonebook_members", Category: datacat.Contacts, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id",
		Purpose: "Users who may read a group phonebook"})
	datacat.RegisterTable(datacat.Table{Name: "contacts", Category: datacat.Contacts, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "owner_user_id",
		NumberColumns: []string{"tel_work", "tel_mobile", "tel_home", "tel_fax", "tel_other", "e164_work", "e164_mobile", "e164_home", "e164_fax", "e164_other"},
		VCard: map[string]string{"display_name": "FN", "family_name": "N", "company": "ORG", "title": "TITLE", "email": "EMAIL", "notes": "NOTE",
			"tel_work": "TEL", "tel_mobile": "TEL", "tel_home": "TEL", "tel_fax": "TEL", "tel_other": "TEL"},
		Purpose: "Phonebook entries: names, organisation, typed phone numbers (as entered and E.164), e-mail, postal address, notes"})
}

// Phonebook kinds.
const (
	BookCompany  = "company"
	BookGroup    = "group"
	BookPersonal = "personal"
)

// Phonebook is one list of contacts in a tenant.
type Phonebook struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	// OwnerUserID is the owner of a personal or group phonebook (nil for company ones).
	OwnerUserID *int64 `json:"owner_user_id,omitempty"`
	// Members may read a group phonebook besides its owner.
	Members   []int64 `json:"members,omitempty"`
	CreatedAt int64   `json:"created_at"`
}

// Number types of a contact, in the order the columns hold them.
var NumberTypes = [...]string{"work", "mobile", "home", "fax", "other"}

// Numbers holds one value per number type.
type Numbers struct {
	Work   string `json:"work,omitempty"`
	Mobile string `json:"mobile,omitempty"`
	Home   string `json:"home,omitempty"`
	Fax    string `json:"fax,omitempty"`
	Other  string `json:"other,omitempty"`
}

// Slots returns pointers to the values in NumberTypes order.
func (n *Numbers) Slots() [5]*string {
	return [5]*string{&n.Work, &n.Mobile, &n.Home, &n.Fax, &n.Other}
}

// Contact is one phonebook entry.
type Contact struct {
	ID          int64  `json:"id"`
	TenantID    int64  `json:"tenant_id"`
	PhonebookID int64  `json:"phonebook_id"`
	OwnerUserID *int64 `json:"owner_user_id,omitempty"`
	// Key is the stable key of the entry within its phonebook (imports and syncs match on it).
	Key         string `json:"key"`
	DisplayName string `json:"display_name"`
	GivenName   string `json:"given_name,omitempty"`
	FamilyName  string `json:"family_name,omitempty"`
	Company     string `json:"company,omitempty"`
	Department  string `json:"department,omitempty"`
	Title       string `json:"title,omitempty"`
	Email       string `json:"email,omitempty"`
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	PostalCode  string `json:"postal_code,omitempty"`
	Region      string `json:"region,omitempty"`
	Country     string `json:"country,omitempty"`
	Notes       string `json:"notes,omitempty"`
	// Numbers are the numbers as entered; E164 the same numbers normalised (empty when a
	// number could not be normalised).
	Numbers   Numbers `json:"numbers"`
	E164      Numbers `json:"e164"`
	CreatedAt int64   `json:"created_at"`
	UpdatedAt int64   `json:"updated_at"`
}

const contactCols = `id, tenant_id, phonebook_id, owner_user_id, ext_key, display_name, given_name, family_name, company, department, title, email,
	street, city, postal_code, region, country, notes, tel_work, tel_mobile, tel_home, tel_fax, tel_other,
	e164_work, e164_mobile, e164_home, e164_fax, e164_other, created_at, updated_at`

func scanContact(s interface{ Scan(...any) error }) (Contact, error) {
	var c Contact
	var owner sql.NullInt64
	err := s.Scan(&c.ID, &c.TenantID, &c.PhonebookID, &owner, &c.Key, &c.DisplayName, &c.GivenName, &c.FamilyName, &c.Company, &c.Department,
		&c.Title, &c.Email, &c.Street, &c.City, &c.PostalCode, &c.Region, &c.Country, &c.Notes,
		&c.Numbers.Work, &c.Numbers.Mobile, &c.Numbers.Home, &c.Numbers.Fax, &c.Numbers.Other,
		&c.E164.Work, &c.E164.Mobile, &c.E164.Home, &c.E164.Fax, &c.E164.Other, &c.CreatedAt, &c.UpdatedAt)
	if owner.Valid {
		c.OwnerUserID = &owner.Int64
	}
	return c, mapErr(err)
}

func contactArgs(c *Contact) []any {
	return []any{c.DisplayName, c.GivenName, c.FamilyName, c.Company, c.Department, c.Title, c.Email,
		c.Street, c.City, c.PostalCode, c.Region, c.Country, c.Notes,
		c.Numbers.Work, c.Numbers.Mobile, c.Numbers.Home, c.Numbers.Fax, c.Numbers.Other,
		c.E164.Work, c.E164.Mobile, c.E164.Home, c.E164.Fax, c.E164.Other}
}

const contactSet = `display_name = ?, given_name = ?, family_name = ?, company = ?, department = ?, title = ?, email = ?,
	street = ?, city = ?, postal_code = ?, region = ?, country = ?, notes = ?,
	tel_work = ?, tel_mobile = ?, tel_home = ?, tel_fax = ?, tel_other = ?,
	e164_work = ?, e164_mobile = ?, e164_home = ?, e164_fax = ?, e164_other = ?`

// TenantCountry returns a tenant's ISO 3166 country code for number normalisation ("" when
// not set: only numbers in international form normalise).
func (db *DB) TenantCountry(ctx context.Context, tenantID int64) (string, error) {
	var c string
	err := db.QueryRow(ctx, `SELECT country FROM tenants WHERE id = ?`, tenantID).Scan(&c)
	return c, mapErr(err)
}

// SetTenantCountry sets a tenant's country code.
func (db *DB) SetTenantCountry(ctx context.Context, tenantID int64, country string) error {
	res, err := db.Exec(ctx, `UPDATE tenants SET country = ? WHERE id = ?`, strings.ToUpper(country), tenantID)
	return affected(res, err)
}

// CreatePhonebook adds a phonebook with its members.
func (db *DB) CreatePhonebook(ctx context.Context, p Phonebook) (Phonebook, error) {
	p.CreatedAt = Now()
	err := db.InTx(ctx, func(tx *DB) error {
		id, err := tx.insertID(ctx, `INSERT INTO phonebooks (tenant_id, kind, name, owner_user_id, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.TenantID, p.Kind, p.Name, p.OwnerUserID, p.CreatedAt)
		if err != nil {
			return err
		}
		p.ID = id
		return tx.setMembers(ctx, p)
	})
	return p, err
}

func (db *DB) setMembers(ctx context.Context, p Phonebook) error {
	if _, err := db.Exec(ctx, `DELETE FROM phonebook_members WHERE tenant_id = ? AND phonebook_id = ?`, p.TenantID, p.ID); err != nil {
		return err
	}
	for _, u := range p.Members {
		if _, err := db.Exec(ctx, `INSERT INTO phonebook_members (phonebook_id, tenant_id, user_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, p.ID, p.TenantID, u); err != nil {
			return err
		}
	}
	return nil
}

// UpdatePhonebook changes a phonebook's name and members.
func (db *DB) UpdatePhonebook(ctx context.Context, p Phonebook) error {
	return db.InTx(ctx, func(tx *DB) error {
		res, err := tx.Exec(ctx, `UPDATE phonebooks SET name = ? WHERE tenant_id = ? AND id = ?`, p.Name, p.TenantID, p.ID)
		if err := affected(res, err); err != nil {
			return err
		}
		return tx.setMembers(ctx, p)
	})
}

// DeletePhonebook removes a phonebook with its contacts.
func (db *DB) DeletePhonebook(ctx context.Context, tenantID, id int64) error {
	return db.InTx(ctx, func(tx *DB) error {
		if _, err := tx.Exec(ctx, `DELETE FROM contacts WHERE tenant_id = ? AND phonebook_id = ?`, tenantID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM phonebook_members WHERE tenant_id = ? AND phonebook_id = ?`, tenantID, id); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM phonebooks WHERE tenant_id = ? AND id = ?`, tenantID, id)
		return affected(res, err)
	})
}

// Phonebook returns one phonebook with its members.
func (db *DB) Phonebook(ctx context.Context, tenantID, id int64) (Phonebook, error) {
	books, err := db.listPhonebooks(ctx, `WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return Phonebook{}, err
	}
	if len(books) == 0 {
		return Phonebook{}, ErrNotFound
	}
	return books[0], nil
}

// ListPhonebooks lists every phonebook of a tenant (all tenants when tenantID is 0).
func (db *DB) ListPhonebooks(ctx context.Context, tenantID int64) ([]Phonebook, error) {
	if tenantID == 0 {
		return db.listPhonebooks(ctx, ``)
	}
	return db.listPhonebooks(ctx, `WHERE tenant_id = ?`, tenantID)
}

func (db *DB) listPhonebooks(ctx context.Context, where string, args ...any) ([]Phonebook, error) {
	rows, err := db.Query(ctx, `SELECT id, tenant_id, kind, name, owner_user_id, created_at FROM phonebooks `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	var out []Phonebook
	idx := map[int64]int{}
	for rows.Next() {
		var p Phonebook
		var owner sql.NullInt64
		if err := rows.Scan(&p.ID, &p.TenantID, &p.Kind, &p.Name, &owner, &p.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		if owner.Valid {
			p.OwnerUserID = &owner.Int64
		}
		idx[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mw := strings.Replace(where, " AND id = ?", " AND phonebook_id = ?", 1)
	rows, err = db.Query(ctx, `SELECT phonebook_id, user_id FROM phonebook_members `+mw+` ORDER BY user_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var b, u int64
		if err := rows.Scan(&b, &u); err != nil {
			return nil, err
		}
		if i, ok := idx[b]; ok {
			out[i].Members = append(out[i].Members, u)
		}
	}
	return out, rows.Err()
}

// CreateContact adds a contact; its owner is its phonebook's.
func (db *DB) CreateContact(ctx context.Context, c Contact) (Contact, error) {
	c.CreatedAt = Now()
	c.UpdatedAt = c.CreatedAt
	args := append([]any{c.TenantID, c.PhonebookID, c.OwnerUserID, c.Key}, contactArgs(&c)...)
	args = append(args, c.CreatedAt, c.UpdatedAt)
	id, err := db.insertID(ctx, `INSERT INTO contacts (tenant_id, phonebook_id, owner_user_id, ext_key, display_name, given_name, family_name, company, department, title, email,
		street, city, postal_code, region, country, notes, tel_work, tel_mobile, tel_home, tel_fax, tel_other,
		e164_work, e164_mobile, e164_home, e164_fax, e164_other, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	c.ID = id
	return c, err
}

// UpdateContact changes a contact's fields (its phonebook, key and owner stay).
func (db *DB) UpdateContact(ctx context.Context, c Contact) (Contact, error) {
	c.UpdatedAt = Now()
	args := append(contactArgs(&c), c.UpdatedAt, c.TenantID, c.ID)
	res, err := db.Exec(ctx, `UPDATE contacts SET `+contactSet+`, updated_at = ? WHERE tenant_id = ? AND id = ?`, args...)
	if err := affected(res, err); err != nil {
		return c, err
	}
	return db.Contact(ctx, c.TenantID, c.ID)
}

// DeleteContact removes a contact.
func (db *DB) DeleteContact(ctx context.Context, tenantID, id int64) error {
	res, err := db.Exec(ctx, `DELETE FROM contacts WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return affected(res, err)
}

// Contact returns one contact.
func (db *DB) Contact(ctx context.Context, tenantID, id int64) (Contact, error) {
	return scanContact(db.QueryRow(ctx, `SELECT `+contactCols+` FROM contacts WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// ContactByKey returns the contact of a phonebook with a stable key.
func (db *DB) ContactByKey(ctx context.Context, tenantID, bookID int64, key string) (Contact, error) {
	return scanContact(db.QueryRow(ctx, `SELECT `+contactCols+` FROM contacts WHERE tenant_id = ? AND phonebook_id = ? AND ext_key = ?`, tenantID, bookID, key))
}

// ContactSorts are the columns a contact list sorts by; searches match the display name,
// the company and the e-mail address.
var ContactSorts = map[string]sortCol{"display_name": {expr: "display_name"}, "company": {expr: "company"}}

// ListContacts lists a phonebook's contacts, by id unless the page sorts otherwise.
func (db *DB) ListContacts(ctx context.Context, tenantID, bookID int64, p Page) ([]Contact, error) {
	sw, sa := p.search("display_name", "company", "email")
	kw, ka, order := p.keyset(ContactSorts)
	args := append(append([]any{tenantID, bookID}, sa...), ka...)
	rows, err := db.Query(ctx, `SELECT `+contactCols+` FROM contacts WHERE tenant_id = ? AND phonebook_id = ?`+sw+kw+order+` LIMIT ?`, append(args, p.limit())...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// EachContact calls fn for every contact of a tenant (of every tenant when tenantID is 0), in
// id order, streaming so that a million rows never sit in memory twice.
func (db *DB) EachContact(ctx context.Context, tenantID int64, fn func(Contact) error) error {
	q, args := `SELECT `+contactCols+` FROM contacts ORDER BY id`, []any{}
	if tenantID != 0 {
		q, args = `SELECT `+contactCols+` FROM contacts WHERE tenant_id = ? ORDER BY id`, []any{tenantID}
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ContactKeys returns the stable keys of a phonebook's contacts with their ids.
func (db *DB) ContactKeys(ctx context.Context, tenantID, bookID int64) (map[string]int64, error) {
	rows, err := db.Query(ctx, `SELECT ext_key, id FROM contacts WHERE tenant_id = ? AND phonebook_id = ?`, tenantID, bookID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var id int64
		if err := rows.Scan(&k, &id); err != nil {
			return nil, err
		}
		out[k] = id
	}
	return out, rows.Err()
}

// UpsertContacts writes many contacts of one phonebook in one transaction, inserting new
// keys (many rows per statement) and updating known ones (imports and syncs). It fills in
// cs in place (ids, phonebook, times) and returns it: a million-row import holds its rows
// once, not twice.
func (db *DB) UpsertContacts(ctx context.Context, tenantID, bookID int64, owner *int64, cs []Contact) ([]Contact, error) {
	err := db.bulkTx(ctx, len(cs) > 10000, func(tx *DB) error {
		{
			// The parents every row shares are checked here, whatever the engine: the
			// phonebook must be the tenant's (a foreign key on the phonebook alone would
			// accept another tenant's), and foreign keys are off in a bulk transaction.
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM phonebooks p JOIN tenants t ON t.id = p.tenant_id WHERE p.id = ? AND p.tenant_id = ?`, bookID, tenantID).Scan(&n); err != nil {
				return err
			}
			if n == 1 && owner != nil {
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, *owner).Scan(&n); err != nil {
					return err
				}
			}
			if n != 1 {
				return fmt.Errorf("store: contacts of phonebook %d: %w", bookID, ErrNotFound)
			}
		}
		keys, err := tx.ContactKeys(ctx, tenantID, bookID)
		if err != nil {
			return err
		}
		var upd *sql.Stmt
		defer func() {
			if upd != nil {
				upd.Close()
			}
		}()
		now := Now()
		var fresh []int // indexes into cs of rows to insert
		for i := range cs {
			c := &cs[i]
			c.TenantID, c.PhonebookID, c.OwnerUserID, c.UpdatedAt = tenantID, bookID, owner, now
			if id, ok := keys[c.Key]; ok {
				c.ID = id
				if upd == nil {
					if upd, err = tx.prepare(ctx, `UPDATE contacts SET `+contactSet+`, updated_at = ? WHERE tenant_id = ? AND id = ?`); err != nil {
						return err
					}
				}
				if _, err := upd.ExecContext(ctx, append(contactArgs(c), now, tenantID, id)...); err != nil {
					return mapErr(err)
				}
			} else {
				c.CreatedAt = now
				keys[c.Key] = 0
				fresh = append(fresh, i)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		keys = nil
		if err := tx.insertContacts(ctx, cs, fresh); err != nil {
			return err
		}
		ids, err := tx.ContactKeys(ctx, tenantID, bookID)
		if err != nil {
			return err
		}
		for _, i := range fresh {
			cs[i].ID = ids[cs[i].Key]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// bulkTx runs fn in a transaction like InTx; a large one on SQLite (big) runs on a
// connection set up for it before BEGIN (SQLite fixes these when a write transaction
// begins, so they cannot be set inside one), and back to the defaults afterwards:
//   - a 64 MB page cache, as a large import would spill SQLite's default 2 MB one to the
//     WAL many times over (a connection's SQLite has 256 MB in all: a cache that size ran
//     it out of memory at a million contacts);
//   - no statement journals: every many-row INSERT that might fail half-way would keep one
//     (to undo that statement alone), copying each page it touches first. In a bulk
//     transaction a failing row fails the whole transaction anyway (the inserts say OR
//     ROLLBACK), and the foreign keys, whose immediate checks need the journal too, are
//     off: fn checks the parents that every row shares (tx.bulk tells it so) under the
//     transaction's write lock. The statement journal is no part of crash safety (the WAL
//     is), and temporary storage is kept in memory for what is left of it.
func (db *DB) bulkTx(ctx context.Context, big bool, fn func(tx *DB) error) error {
	if db.tx || !big || db.engine != SQLite {
		return db.InTx(ctx, fn)
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: connection: %w", db.note(err))
	}
	err = func() error {
		for _, q := range []string{`PRAGMA cache_size = -65536`, `PRAGMA temp_store = MEMORY`, `PRAGMA foreign_keys = OFF`} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: begin: %w", db.note(err))
		}
		inner := &DB{sql: db.sql, engine: db.engine, q: tx, tx: true, binds: db.binds, state: db.state, key: db.key, bulk: true}
		if err := fn(inner); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: commit: %w", db.note(mapErr(err)))
		}
		return nil
	}()
	// Not deferred: the driver panics when SQLite runs out of memory, and database/sql
	// cannot close (or use) a connection a panic left in use, so a deferred close would
	// hang the process instead of letting the panic end it. A connection that cannot be set
	// back is not given back to the pool.
	reset := context.WithoutCancel(ctx)
	for _, q := range []string{`PRAGMA foreign_keys = ON`, `PRAGMA temp_store = DEFAULT`, `PRAGMA cache_size = -2000`} {
		if _, rerr := conn.ExecContext(reset, q); rerr != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
			break
		}
	}
	conn.Close()
	return err
}

// insertRows is how many contacts one INSERT statement carries (29 values each).
const insertRows = 100

const contactInsertCols = ` INTO contacts (tenant_id, phonebook_id, owner_user_id, ext_key, display_name, given_name, family_name, company, department, title, email,
	street, city, postal_code, region, country, notes, tel_work, tel_mobile, tel_home, tel_fax, tel_other,
	e164_work, e164_mobile, e164_home, e164_fax, e164_other, created_at, updated_at) VALUES `

const contactPlaceholders = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertContacts inserts the rows of cs named by idx, insertRows per statement.
func (db *DB) insertContacts(ctx context.Context, cs []Contact, idx []int) error {
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, insertRows*29)
	for lo := 0; lo < len(idx); lo += insertRows {
		hi := min(lo+insertRows, len(idx))
		args = args[:0]
		for _, i := range idx[lo:hi] {
			c := &cs[i]
			args = append(args, c.TenantID, c.PhonebookID, c.OwnerUserID, c.Key)
			args = append(args, contactArgs(c)...)
			args = append(args, c.CreatedAt, c.UpdatedAt)
		}
		// In a bulk transaction a failing row fails the whole import anyway: OR ROLLBACK
		// says so to SQLite, which then keeps no statement journal (with deferred foreign
		// keys, see bulkTx).
		verb := "INSERT"
		if db.bulk {
			verb = "INSERT OR ROLLBACK"
		}
		q := verb + contactInsertCols + strings.Repeat(contactPlaceholders+", ", hi-lo-1) + contactPlaceholders
		if hi-lo == insertRows {
			if full == nil {
				st, err := db.prepare(ctx, q)
				if err != nil {
					return err
				}
				full = st
			}
			if _, err := full.ExecContext(ctx, args...); err != nil {
				return mapErr(err)
			}
			continue
		}
		if _, err := db.Exec(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// DeleteContactsExcept removes a phonebook's contacts whose keys are not in keep (a sync
// source's vanished entries) and returns their ids.
func (db *DB) DeleteContactsExcept(ctx context.Context, tenantID, bookID int64, keep map[string]bool) ([]int64, error) {
	all, err := db.ContactKeys(ctx, tenantID, bookID)
	if err != nil {
		return nil, err
	}
	var gone []int64
	err = db.InTx(ctx, func(tx *DB) error {
		for k, id := range all {
			if keep[k] {
				continue
			}
			if _, err := tx.Exec(ctx, `DELETE FROM contacts WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
				return err
			}
			gone = append(gone, id)
		}
		return nil
	})
	return gone, err
}

// ContactStats returns per tenant the number of contacts and the latest change, so that the
// directory notices rows removed behind its back (the privacy engine's erasure).
func (db *DB) ContactStats(ctx context.Context) (map[int64][2]int64, error) {
	rows, err := db.Query(ctx, `SELECT tenant_id, COUNT(*), COALESCE(MAX(updated_at), 0) FROM contacts GROUP BY tenant_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][2]int64{}
	for rows.Next() {
		var t, n, u int64
		if err := rows.Scan(&t, &n, &u); err != nil {
			return nil, err
		}
		out[t] = [2]int64{n, u}
	}
	return out, rows.Err()
}
