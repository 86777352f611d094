// Package datacat is the vocabulary of personal data in Privox: the data categories of SPEC §2,
// their retention rules and presets, and the registry in which every table and every kind of
// stored file declares its category, its owner and how it is found. The sweeper, the exporter,
// the eraser and the generated records of processing all read this registry; nothing else
// decides what personal data Privox keeps.
//
// The package imports nothing of Privox so that storage can register its tables here and the
// privacy engine, one layer above storage, can read them.
package datacat

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Category is one kind of data with one retention rule (SPEC §2).
type Category string

// The categories of SPEC §2.
const (
	Personal         Category = "personal"
	Credentials      Category = "credentials"
	Profile          Category = "profile"
	Contacts         Category = "contacts"
	UserContent      Category = "user_content"
	Connection       Category = "connection"
	Presence         Category = "presence"
	Traffic          Category = "traffic"
	Usage            Category = "usage"
	Billing          Category = "billing"
	AppLogs          Category = "app_logs"
	DebugTraces      Category = "debug_traces"
	Backups          Category = "backups"
	UpdateLogs       Category = "update_logs"
	DirectoryQueries Category = "directory_queries"
	TenantAdmin      Category = "tenant_admin"
	// Audit is the audit log of reads, plays, downloads, exports, deletions and admin changes
	// (SPEC §3: "kept as its own category").
	Audit Category = "audit"
	// Configuration is tenant configuration that holds no personal data (trunks, dial plan,
	// policies). It is declared so that every table has a category; it is never swept.
	Configuration Category = "configuration"
	// Statistics holds anonymous aggregates that survive anonymisation; no personal data.
	Statistics Category = "statistics"
)

// Mode says what happens to a record when its retention period ends.
type Mode string

const (
	// Delete removes the record and its files.
	Delete Mode = "delete"
	// Anonymise masks numbers, truncates IPs and removes user references, keeping the record.
	Anonymise Mode = "anonymise"
	// WhileActive keeps the record while its owner (user or registration) is active.
	WhileActive Mode = "while_active"
	// UntilDeleted keeps the record until someone deletes it.
	UntilDeleted Mode = "until_deleted"
	// NeverStored is for data that must never reach storage (directory queries, presence).
	NeverStored Mode = "never_stored"
)

// OnDeactivation says what erasure does to a category when its user is deactivated or deleted.
type OnDeactivation string

const (
	EraseDelete    OnDeactivation = "delete"
	EraseAnonymise OnDeactivation = "anonymise"
	EraseNA        OnDeactivation = "n/a"
)

// Rule is the retention rule of one category in one tenant.
type Rule struct {
	Category Category `json:"category"`
	Mode     Mode     `json:"mode"`
	// Days is the retention period for Delete and Anonymise; 0 for the other modes.
	Days int `json:"days,omitempty"`
	// OnDeactivation applies when the owning user is deactivated or deleted.
	OnDeactivation OnDeactivation `json:"on_deactivation"`
}

// Period returns the retention period as a duration (0 when the rule is not time based).
func (r Rule) Period() time.Duration { return time.Duration(r.Days) * 24 * time.Hour }

// Timed reports whether the rule expires records by age.
func (r Rule) Timed() bool { return (r.Mode == Delete || r.Mode == Anonymise) && r.Days > 0 }

// Validate reports a rule that cannot be applied.
func (r Rule) Validate() error {
	if _, ok := descriptions[r.Category]; !ok {
		return fmt.Errorf("unknown category %q", r.Category)
	}
	switch r.Mode {
	case Delete, Anonymise:
		if r.Days < 1 || r.Days > 36500 {
			return fmt.Errorf("category %s: days must be between 1 and 36500", r.Category)
		}
	case WhileActive, UntilDeleted, NeverStored:
		if r.Days != 0 {
			return fmt.Errorf("category %s: mode %s takes no days", r.Category, r.Mode)
		}
	default:
		return fmt.Errorf("category %s: unknown mode %q", r.Category, r.Mode)
	}
	switch r.OnDeactivation {
	case EraseDelete, EraseAnonymise, EraseNA:
	default:
		return fmt.Errorf("category %s: unknown on_deactivation %q", r.Category, r.OnDeactivation)
	}
	return nil
}

// Description says in a sentence what a category holds, for generated documents.
func Description(c Category) string { return descriptions[c] }

var descriptions = map[Category]string{
	Personal:         "Name, e-mail address, phone numbers, caller-ID name, address",
	Credentials:      "Password hashes (argon2id), SIP digest HA1 secrets, voicemail PIN hashes, API tokens, sessions",
	Profile:          "Forwarding targets, do-not-disturb, IVR and service settings",
	Contacts:         "Personal, group and company phonebooks",
	UserContent:      "Voicemails, greetings, faxes, call recordings, instant messages, uploaded media",
	Connection:       "IP addresses, SIP contacts, user agents, device identifiers",
	Presence:         "Presence and location state",
	Traffic:          "Call detail records: numbers, time, duration, cause",
	Usage:            "The user's own call journal",
	Billing:          "Rated call detail records with cost, invoices",
	AppLogs:          "Application logs",
	DebugTraces:      "SIP and RTP traces taken in debug mode",
	Backups:          "Encrypted backup archives",
	UpdateLogs:       "Update-check records: IP address, time, device type, version",
	DirectoryQueries: "Directory search queries and results (only anonymous counters are kept)",
	TenantAdmin:      "Tenant registration and administrative contact",
	Audit:            "Audit log of access to content and administrative changes",
	Configuration:    "System and tenant configuration without personal data",
	Statistics:       "Anonymous aggregates (calls per hour, per trunk)",
}

// Categories lists every category in a stable order.
func Categories() []Category {
	out := make([]Category, 0, len(descriptions))
	for c := range descriptions {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Presets are the named retention presets of SPEC §2.
var presetNames = []string{"default", "eu", "de"}

// PresetNames lists the preset names.
func PresetNames() []string { return append([]string(nil), presetNames...) }

// Preset returns the rules of a named preset, one per category.
func Preset(name string) (map[Category]Rule, error) {
	base := map[Category]Rule{
		Personal:         {Mode: WhileActive, OnDeactivation: EraseDelete},
		Credentials:      {Mode: WhileActive, OnDeactivation: EraseDelete},
		Profile:          {Mode: WhileActive, OnDeactivation: EraseDelete},
		Contacts:         {Mode: WhileActive, OnDeactivation: EraseDelete},
		UserContent:      {Mode: Delete, Days: 90, OnDeactivation: EraseDelete},
		Connection:       {Mode: WhileActive, OnDeactivation: EraseDelete},
		Presence:         {Mode: NeverStored, OnDeactivation: EraseDelete},
		Traffic:          {Mode: Anonymise, Days: 30, OnDeactivation: EraseAnonymise},
		Usage:            {Mode: WhileActive, OnDeactivation: EraseDelete},
		Billing:          {Mode: Anonymise, Days: 730, OnDeactivation: EraseAnonymise},
		AppLogs:          {Mode: Delete, Days: 30, OnDeactivation: EraseNA},
		DebugTraces:      {Mode: Delete, Days: 28, OnDeactivation: EraseNA},
		Backups:          {Mode: Delete, Days: 30, OnDeactivation: EraseNA},
		UpdateLogs:       {Mode: Anonymise, Days: 14, OnDeactivation: EraseNA},
		DirectoryQueries: {Mode: NeverStored, OnDeactivation: EraseNA},
		TenantAdmin:      {Mode: UntilDeleted, OnDeactivation: EraseNA},
		Audit:            {Mode: Delete, Days: 365, OnDeactivation: EraseNA},
		Configuration:    {Mode: UntilDeleted, OnDeactivation: EraseNA},
		Statistics:       {Mode: UntilDeleted, OnDeactivation: EraseNA},
	}
	switch name {
	case "default":
	case "eu":
		base[Billing] = Rule{Mode: Anonymise, Days: 183, OnDeactivation: EraseAnonymise}
	case "de":
		base[Billing] = Rule{Mode: Anonymise, Days: 183, OnDeactivation: EraseAnonymise}
		base[Traffic] = Rule{Mode: Anonymise, Days: 7, OnDeactivation: EraseAnonymise}
	default:
		return nil, fmt.Errorf("unknown retention preset %q (want one of %v)", name, presetNames)
	}
	for c, r := range base {
		r.Category = c
		base[c] = r
	}
	return base, nil
}

// Owner says whose data a record is.
type Owner string

const (
	OwnerUser   Owner = "user"   // belongs to one user (UserColumn)
	OwnerTenant Owner = "tenant" // belongs to the tenant as a whole
	OwnerSystem Owner = "system" // belongs to no tenant (installation-wide)
)

// Table declares one database table: its category and the columns the privacy engine uses.
type Table struct {
	Name     string
	Category Category
	Owner    Owner
	// TenantColumn names the tenant reference ("" for system tables).
	TenantColumn string
	// UserColumn names the owning user reference ("" when Owner is not OwnerUser).
	UserColumn string
	// TimeColumn names the column (unix milliseconds) the retention period counts from.
	TimeColumn string
	// FileColumn names a column that holds a content-file reference, whose file goes with the row.
	FileColumn string
	// SubCategory refines a category whose retention differs per kind of record
	// (voicemail, fax, recording, im for user_content).
	SubCategory string
	// PersonColumns name further user references (beyond UserColumn) that tie a row to a
	// person: a CDR names caller and callee. Export and erasure follow them too.
	PersonColumns []string
	// NumberColumns hold phone numbers that anonymisation masks.
	NumberColumns []string
	// Parties tie a person column to the columns that describe that person's side of the
	// record (a CDR's caller_user_id to caller). Erasing a person masks and clears only the
	// sides that person is on, so another user's record of a call with them keeps the other
	// user's side. Number columns that belong to no party describe outsiders and are masked
	// whenever a person of the row is erased.
	Parties []Party
	// IPColumns hold IP addresses that anonymisation truncates.
	IPColumns []string
	// Purpose says in a sentence why the table exists (records of processing).
	Purpose string

	// The fields below tell the privacy engine how to sweep, anonymise, export and erase the
	// table without knowing it. A table that needs none of them leaves them empty.

	// ExpiresColumn names a column (unix milliseconds) after which the record ends by itself
	// (sessions, registrations, tokens with an expiry); the sweeper removes such rows whatever
	// the category's rule, since they no longer serve any purpose.
	ExpiresColumn string
	// KindColumn names the column holding the file kind, for tables whose rows hold several
	// kinds of content with different retention (content_files: voicemail, recording, …).
	KindColumn string
	// AnonymisedColumn names a boolean column set once a row was anonymised in place.
	AnonymisedColumn string
	// StatsDimensions name the columns kept, per tenant and hour, in the anonymous aggregates
	// built before rows of the table go (cdrs: trunk and direction).
	StatsDimensions []string
	// StatsSum names a numeric column summed in those aggregates (cdrs: duration_ms).
	StatsSum string
	// SecretColumns hold secrets (hashes, HA1, digests) that a subject-access export lists
	// as present but never copies out.
	SecretColumns []string
	// Tombstone says which columns erasure overwrites instead of deleting the row, with the
	// values to write; "{id}" in a value is replaced by the user's id. The row stays: for the
	// owners themselves (users) so that references to them keep pointing at something, for
	// rows that belong to the tenant but are assigned to a person (an extension number) so
	// that the tenant keeps them. Unless the user column is the row's own id, erasure also
	// removes the owner reference.
	Tombstone map[string]string
	// HashColumn names the column of a hash chain over the rows in id order (audit_log): the
	// sweeper deletes only a prefix of such a table, by the installation's rule, and records
	// the last removed hash as the chain's checkpoint.
	HashColumn string
	// TargetPerson, when set, says that a row names a person as the target of what it
	// records (an audit entry about a user): a legal hold on the person then holds the row.
	TargetPerson *TargetRef
	// VCard maps columns to vCard 4 properties (FN, N, EMAIL, TEL, ORG, TITLE, NOTE, ADR) for
	// contact tables; a subject-access export writes their rows as vCards as well as JSON.
	VCard map[string]string
}

// TargetRef names the columns of a row's target: the row is about user ID when TypeColumn
// holds Type and IDColumn the user's id as text.
type TargetRef struct {
	TypeColumn string
	Type       string
	IDColumn   string
}

// Party is one person's side of a record: the person column and the columns that describe
// that person there.
type Party struct {
	// Person names the user reference (UserColumn or one of PersonColumns).
	Person string
	// Numbers are number columns of that side (masked on erasure).
	Numbers []string
	// Clear are text columns of that side set to '' on erasure (a caller-ID name).
	Clear []string
}

// PartyOf returns the party of a person column.
func (t Table) PartyOf(person string) (Party, bool) {
	for _, p := range t.Parties {
		if p.Person == person {
			return p, true
		}
	}
	return Party{}, false
}

// LinksPerson reports whether rows of the table can belong to or name a user.
func (t Table) LinksPerson() bool { return t.UserColumn != "" || len(t.PersonColumns) > 0 }

// FileKind declares one kind of stored content file.
type FileKind struct {
	Kind     string
	Category Category
	// Table is the table whose rows reference files of this kind.
	Table   string
	Purpose string
	// Ext is the file name extension a subject-access export gives the decrypted content
	// ("wav" for audio, "pdf" for faxes, "txt" for messages).
	Ext string
	// Mode and Days, when Mode is set, are the kind's own default retention, which differs
	// from its category's (recordings: 40 days; greetings: while the user is active).
	Mode Mode
	Days int
}

var (
	mu     sync.RWMutex
	tables = map[string]Table{}
	files  = map[string]FileKind{}
)

// RegisterTable declares a table. It panics on a duplicate or an invalid declaration, since
// declarations are made at init time and a wrong one is a programming error.
func RegisterTable(t Table) {
	mu.Lock()
	defer mu.Unlock()
	if t.Name == "" || descriptions[t.Category] == "" {
		panic(fmt.Sprintf("datacat: invalid table declaration %+v", t))
	}
	if _, dup := tables[t.Name]; dup {
		panic("datacat: table registered twice: " + t.Name)
	}
	if t.Owner == OwnerUser && t.UserColumn == "" {
		panic("datacat: user-owned table without user column: " + t.Name)
	}
	if t.Owner != OwnerSystem && t.TenantColumn == "" {
		panic("datacat: tenant table without tenant column: " + t.Name)
	}
	tables[t.Name] = t
}

// RegisterFileKind declares a kind of content file.
func RegisterFileKind(f FileKind) {
	mu.Lock()
	defer mu.Unlock()
	if f.Kind == "" || descriptions[f.Category] == "" {
		panic(fmt.Sprintf("datacat: invalid file kind %+v", f))
	}
	if _, dup := files[f.Kind]; dup {
		panic("datacat: file kind registered twice: " + f.Kind)
	}
	files[f.Kind] = f
}

// LookupTable returns a table's declaration.
func LookupTable(name string) (Table, bool) {
	mu.RLock()
	defer mu.RUnlock()
	t, ok := tables[name]
	return t, ok
}

// Tables lists every declared table, sorted by name.
func Tables() []Table {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Table, 0, len(tables))
	for _, t := range tables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FileKinds lists every declared file kind, sorted by kind.
func FileKinds() []FileKind {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]FileKind, 0, len(files))
	for _, f := range files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}
