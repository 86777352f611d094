package directory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-vcard"
	"golang.org/x/text/encoding/charmap"

	"github.com/privox/privox/internal/store"
)

// Import and export of phonebooks: CSV with a column mapping (the headers of Outlook and
// Google exports and of Privox's own export are recognised; others are mapped by the admin),
// UTF-8 or Windows-1252, and vCard 3.0 and 4.0. Every entry has a stable key (the file's
// UID or key column, or one derived from name and e-mail) so that importing the same file
// again updates instead of duplicating. Every bad row is reported with its line and reason;
// nothing is written from a file with errors unless the caller asks to skip them.

// RowError is one rejected row or card.
type RowError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ImportReport says what an import did (or, with errors and no skipping, would have done).
type ImportReport struct {
	Rows     int        `json:"rows"`
	Created  int        `json:"created"`
	Updated  int        `json:"updated"`
	Skipped  int        `json:"skipped"`
	Encoding string     `json:"encoding,omitempty"`
	Errors   []RowError `json:"errors,omitempty"`
	// Written is false when errors stopped the import.
	Written bool `json:"written"`
}

// ImportOptions control an import.
type ImportOptions struct {
	// SkipErrors imports the good rows of a file with bad ones.
	SkipErrors bool
	// Mapping maps CSV headers (case-insensitive) to fields (see Fields); it adds to and
	// overrides the recognised headers.
	Mapping map[string]string
}

// Fields are the contact fields a CSV column can map to.
var Fields = []string{"key", "display_name", "given_name", "family_name", "company", "department", "title", "email",
	"street", "city", "postal_code", "region", "country", "notes", "tel_work", "tel_mobile", "tel_home", "tel_fax", "tel_other"}

// knownHeaders are the headers of common exports (lower case) and the field each fills.
var knownHeaders = map[string]string{
	// Privox and the ldapload generator.
	"name": "display_name", "given": "given_name", "surname": "family_name", "phone": "tel_work", "mobile": "tel_mobile",
	"email": "email", "company": "company", "uid": "key", "id": "key",
	// Outlook (English).
	"first name": "given_name", "last name": "family_name", "display name": "display_name", "department": "department",
	"job title": "title", "business phone": "tel_work", "business phone 2": "tel_other", "mobile phone": "tel_mobile",
	"home phone": "tel_home", "business fax": "tel_fax", "other phone": "tel_other", "e-mail address": "email",
	"business street": "street", "business city": "city", "business postal code": "postal_code", "business state": "region",
	"business country/region": "country", "notes": "notes", "company main phone": "tel_other",
	// Outlook (German).
	"vorname": "given_name", "nachname": "family_name", "firma": "company", "abteilung": "department", "position": "title",
	"telefon geschäftlich": "tel_work", "telefon geschäftlich 2": "tel_other", "mobiltelefon": "tel_mobile",
	"telefon privat": "tel_home", "fax geschäftlich": "tel_fax", "weiteres telefon": "tel_other", "e-mail-adresse": "email",
	"straße geschäftlich": "street", "ort geschäftlich": "city", "postleitzahl geschäftlich": "postal_code",
	"bundesland/kanton geschäftlich": "region", "land/region geschäftlich": "country", "notizen": "notes",
	// Google Contacts.
	"given name": "given_name", "family name": "family_name", "organization 1 - name": "company",
	"organization 1 - title": "title", "organization 1 - department": "department", "e-mail 1 - value": "email",
	"organization name": "company", "organization title": "title", "organization department": "department",
	"address 1 - street": "street", "address 1 - city": "city", "address 1 - postal code": "postal_code",
	"address 1 - region": "region", "address 1 - country": "country",
}

func init() {
	for _, f := range Fields {
		knownHeaders[f] = f
	}
}

// setField stores v in the named field of c.
func setField(c *store.Contact, field, v string) {
	v = strings.TrimSpace(v)
	switch field {
	case "key":
		c.Key = v
	case "display_name":
		c.DisplayName = v
	case "given_name":
		c.GivenName = v
	case "family_name":
		c.FamilyName = v
	case "company":
		c.Company = v
	case "department":
		c.Department = v
	case "title":
		c.Title = v
	case "email":
		c.Email = v
	case "street":
		c.Street = v
	case "city":
		c.City = v
	case "postal_code":
		c.PostalCode = v
	case "region":
		c.Region = v
	case "country":
		c.Country = v
	case "notes":
		c.Notes = v
	case "tel_work":
		addNumber(&c.Numbers.Work, &c.Numbers.Other, v)
	case "tel_mobile":
		addNumber(&c.Numbers.Mobile, &c.Numbers.Other, v)
	case "tel_home":
		addNumber(&c.Numbers.Home, &c.Numbers.Other, v)
	case "tel_fax":
		addNumber(&c.Numbers.Fax, &c.Numbers.Other, v)
	case "tel_other":
		addNumber(&c.Numbers.Other, nil, v)
	}
}

// addNumber fills slot, or other when slot is taken (a second work number).
func addNumber(slot, other *string, v string) {
	switch {
	case v == "":
	case *slot == "":
		*slot = v
	case other != nil && *other == "":
		*other = v
	}
}

// googlePhoneType maps Google's "Phone N - Type/Label" values to a number field.
func googlePhoneType(t string) string {
	t = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "* "))
	switch {
	case strings.Contains(t, "fax"):
		return "tel_fax"
	case strings.Contains(t, "mobile"), strings.Contains(t, "cell"):
		return "tel_mobile"
	case strings.Contains(t, "home"):
		return "tel_home"
	case strings.Contains(t, "work"):
		return "tel_work"
	}
	return "tel_other"
}

// decodeText returns the file as UTF-8: UTF-8 (with or without BOM) stays, anything else is
// read as Windows-1252, the encoding of Outlook's CSV exports on Western Windows.
func decodeText(b []byte) ([]byte, string, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if utf8.Valid(b) {
		return b, "utf-8", nil
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the file is neither UTF-8 nor Windows-1252", ErrInvalid)
	}
	return out, "windows-1252", nil
}

// deriveKey makes the stable key of an entry without one: its folded name and e-mail.
func deriveKey(c *store.Contact) string {
	h := sha256.Sum256([]byte(Fold(c.DisplayName+" "+c.GivenName+" "+c.FamilyName) + "\x00" + strings.ToLower(c.Email) + "\x00" + Fold(c.Company)))
	return "d-" + hex.EncodeToString(h[:12])
}

// ParseCSV reads contacts from a CSV file; rows with errors are reported, not returned.
func ParseCSV(data []byte, mapping map[string]string) ([]store.Contact, []int, ImportReport, error) {
	var rep ImportReport
	text, enc, err := decodeText(data)
	if err != nil {
		return nil, nil, rep, err
	}
	rep.Encoding = enc
	// Excel writes ";" where the list separator is a comma (German locales).
	comma := ','
	if nl := bytes.IndexByte(text, '\n'); nl > 0 {
		head := text[:nl]
		if bytes.Count(head, []byte(";")) > bytes.Count(head, []byte(",")) {
			comma = ';'
		}
	}
	r := csv.NewReader(bytes.NewReader(text))
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, nil, rep, fmt.Errorf("%w: CSV header: %v", ErrInvalid, err)
	}
	cols := make([]string, len(header))
	phoneType := map[int]int{} // "Phone N - Value" column → its "Type" column
	typeCols := map[string]int{}
	for i, h := range header {
		typeCols[strings.ToLower(strings.TrimSpace(h))] = i
	}
	mapped := 0
	for i, h := range header {
		l := strings.ToLower(strings.TrimSpace(h))
		if f, ok := mapping[l]; ok {
			cols[i] = f
		} else if f, ok := knownHeaders[l]; ok {
			cols[i] = f
		} else if strings.HasPrefix(l, "phone ") && strings.HasSuffix(l, " - value") {
			n := strings.TrimSuffix(strings.TrimPrefix(l, "phone "), " - value")
			if tc, ok := typeCols["phone "+n+" - type"]; ok {
				phoneType[i] = tc
			} else if tc, ok := typeCols["phone "+n+" - label"]; ok {
				phoneType[i] = tc
			}
			cols[i] = "tel_other"
		}
		if cols[i] != "" {
			mapped++
		}
	}
	for h, f := range mapping {
		if !validField(f) {
			return nil, nil, rep, fmt.Errorf("%w: mapping %q: unknown field %q (fields: %s)", ErrInvalid, h, f, strings.Join(Fields, ", "))
		}
	}
	if mapped == 0 {
		return nil, nil, rep, fmt.Errorf("%w: no CSV column is known; map the headers to fields (%s)", ErrInvalid, strings.Join(Fields, ", "))
	}
	// One contact per line at most (quoted fields may span lines): growing a slice of a
	// million contacts by doubling would copy it over and over.
	rows := bytes.Count(text, []byte{'\n'}) + 1
	out := make([]store.Contact, 0, rows)
	lines := make([]int, 0, rows)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		rep.Rows++
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rep.Errors = append(rep.Errors, RowError{Line: pe.StartLine, Reason: pe.Err.Error()})
				continue
			}
			return nil, nil, rep, err
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			rep.Errors = append(rep.Errors, RowError{Line: line, Reason: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		var c store.Contact
		for i, v := range rec {
			f := cols[i]
			if tc, ok := phoneType[i]; ok {
				f = googlePhoneType(rec[tc])
			}
			if f != "" {
				if !strings.Contains(v, " ::: ") {
					setField(&c, f, v)
					continue
				}
				for _, part := range strings.Split(v, " ::: ") { // Google joins several values so
					setField(&c, f, part)
				}
			}
		}
		out = append(out, c)
		lines = append(lines, line)
	}
	return out, lines, rep, nil
}

func validField(f string) bool {
	for _, x := range Fields {
		if x == f {
			return true
		}
	}
	return false
}

// ParseVCards reads vCard 3.0 and 4.0 cards; unknown properties are ignored, cards without a
// name are reported.
func ParseVCards(data []byte) ([]store.Contact, []int, ImportReport, error) {
	var rep ImportReport
	text, enc, err := decodeText(data)
	if err != nil {
		return nil, nil, rep, err
	}
	rep.Encoding = enc
	dec := vcard.NewDecoder(bytes.NewReader(text))
	var out []store.Contact
	var lines []int
	for n := 1; ; n++ {
		card, err := dec.Decode()
		if err == io.EOF {
			break
		}
		rep.Rows++
		if err != nil {
			// The decoder cannot resynchronise after a broken card: report it and stop.
			rep.Errors = append(rep.Errors, RowError{Line: n, Reason: "card " + fmt.Sprint(n) + ": " + err.Error()})
			break
		}
		out = append(out, cardContact(card))
		lines = append(lines, n)
	}
	return out, lines, rep, nil
}

func cardContact(card vcard.Card) store.Contact {
	var c store.Contact
	c.Key = card.Value(vcard.FieldUID)
	c.DisplayName = card.Value(vcard.FieldFormattedName)
	if n := card.Name(); n != nil {
		c.GivenName, c.FamilyName = n.GivenName, n.FamilyName
	}
	if org := card.Get(vcard.FieldOrganization); org != nil {
		parts := strings.SplitN(org.Value, ";", 2)
		c.Company = parts[0]
		if len(parts) > 1 {
			c.Department = strings.ReplaceAll(parts[1], ";", " ")
		}
	}
	c.Title = card.Value(vcard.FieldTitle)
	c.Email = card.Value(vcard.FieldEmail)
	c.Notes = card.Value(vcard.FieldNote)
	if a := card.Address(); a != nil {
		c.Street, c.City, c.Region, c.PostalCode, c.Country = a.StreetAddress, a.Locality, a.Region, a.PostalCode, a.Country
	}
	for _, f := range card[vcard.FieldTelephone] {
		v := strings.TrimPrefix(f.Value, "tel:")
		types := strings.ToLower(strings.Join(f.Params.Types(), ","))
		switch {
		case strings.Contains(types, "fax"):
			setField(&c, "tel_fax", v)
		case strings.Contains(types, "cell"):
			setField(&c, "tel_mobile", v)
		case strings.Contains(types, "home"):
			setField(&c, "tel_home", v)
		case strings.Contains(types, "work"), types == "", types == "voice", types == "pref":
			setField(&c, "tel_work", v)
		default:
			setField(&c, "tel_other", v)
		}
	}
	return c
}

// Import checks parsed contacts and writes them into a phonebook.
func (s *Service) Import(ctx context.Context, book store.Phonebook, cs []store.Contact, lines []int, rep ImportReport, opt ImportOptions) (ImportReport, error) {
	country, err := s.Country(ctx, book.TenantID)
	if err != nil {
		return rep, err
	}
	normalizeAll(cs, country)
	seen := make(map[string]int, len(cs))
	good := cs[:0]
	for i := range cs {
		c := cs[i]
		if err := CheckContact(&c); err != nil {
			rep.Errors = append(rep.Errors, RowError{Line: lines[i], Reason: strings.TrimPrefix(err.Error(), "invalid: ")})
			continue
		}
		if c.Key == "" {
			c.Key = deriveKey(&c)
		}
		if first, dup := seen[c.Key]; dup {
			rep.Errors = append(rep.Errors, RowError{Line: lines[i], Reason: fmt.Sprintf("duplicate of the entry on line %d", first)})
			continue
		}
		seen[c.Key] = lines[i]
		good = append(good, c)
	}
	sort.Slice(rep.Errors, func(i, j int) bool { return rep.Errors[i].Line < rep.Errors[j].Line })
	rep.Skipped = len(rep.Errors)
	if len(rep.Errors) > 0 && !opt.SkipErrors {
		return rep, nil
	}
	known, err := s.db.ContactKeys(ctx, book.TenantID, book.ID)
	if err != nil {
		return rep, err
	}
	for _, c := range good {
		if _, ok := known[c.Key]; ok {
			rep.Updated++
		} else {
			rep.Created++
		}
	}
	if _, err := s.upsert(ctx, book, good); err != nil {
		return rep, err
	}
	rep.Written = true
	return rep, nil
}

// ExportCSV writes a phonebook as CSV (UTF-8, Privox's own headers, which import again).
func (s *Service) ExportCSV(ctx context.Context, book store.Phonebook, w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(Fields)
	err := s.db.EachContact(ctx, book.TenantID, func(c store.Contact) error {
		if c.PhonebookID != book.ID {
			return nil
		}
		return cw.Write([]string{c.Key, c.DisplayName, c.GivenName, c.FamilyName, c.Company, c.Department, c.Title, c.Email,
			c.Street, c.City, c.PostalCode, c.Region, c.Country, c.Notes,
			c.Numbers.Work, c.Numbers.Mobile, c.Numbers.Home, c.Numbers.Fax, c.Numbers.Other})
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// ExportVCards writes a phonebook as vCards of version "3.0" or "4.0".
func (s *Service) ExportVCards(ctx context.Context, book store.Phonebook, version string, w io.Writer) error {
	if version != "3.0" && version != "4.0" {
		return fmt.Errorf("%w: vCard version must be 3.0 or 4.0", ErrInvalid)
	}
	enc := vcard.NewEncoder(w)
	return s.db.EachContact(ctx, book.TenantID, func(c store.Contact) error {
		if c.PhonebookID != book.ID {
			return nil
		}
		return enc.Encode(ContactCard(&c, version))
	})
}

// ContactCard is a contact as a vCard; numbers are written as entered, typed.
func ContactCard(c *store.Contact, version string) vcard.Card {
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, version)
	card.SetValue(vcard.FieldUID, c.Key)
	card.SetValue(vcard.FieldFormattedName, displayName(c))
	card.SetName(&vcard.Name{GivenName: c.GivenName, FamilyName: c.FamilyName})
	if c.Company != "" || c.Department != "" {
		// ORG is structured: organisation;unit (the encoder escapes neither ";" nor the parts).
		card.SetValue(vcard.FieldOrganization, strings.TrimSuffix(strings.ReplaceAll(c.Company, ";", ",")+";"+strings.ReplaceAll(c.Department, ";", ","), ";"))
	}
	for _, kv := range [][2]string{{vcard.FieldTitle, c.Title}, {vcard.FieldEmail, c.Email}, {vcard.FieldNote, c.Notes}} {
		if kv[1] != "" {
			card.SetValue(kv[0], kv[1])
		}
	}
	if c.Street+c.City+c.PostalCode+c.Region+c.Country != "" {
		card.AddAddress(&vcard.Address{StreetAddress: c.Street, Locality: c.City, Region: c.Region, PostalCode: c.PostalCode, Country: c.Country})
	}
	types := [...]string{"work", "cell", "home", "fax", ""}
	for i, p := range c.Numbers.Slots() {
		if *p == "" {
			continue
		}
		f := &vcard.Field{Value: *p, Params: vcard.Params{}}
		if types[i] != "" {
			f.Params.Add(vcard.ParamType, types[i])
		}
		card.Add(vcard.FieldTelephone, f)
	}
	return card
}
