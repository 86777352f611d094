package ldapserver

import (
	"strconv"
	"strings"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// How contacts appear over LDAP: inetOrgPerson entries with the attributes desk phones ask
// for (Yealink, Snom, Grandstream, Fanvil, Gigaset), plus the Active Directory names some of
// them are configured with (ipPhone, company, department). Name attributes match without
// regard to case or diacritics ("Mül" and "mul" find "Müller"); number attributes match on
// digits, and an exact number in any form the tenant's country allows matches its E.164 form.

type attrKind int

const (
	kindText attrKind = iota
	kindName
	kindNumber
	kindClass
)

type attrDef struct {
	name string // as written in results
	kind attrKind
	get  func(c *store.Contact) string
	num  int // number slot for kindNumber
}

func numberAttr(name string, slot int) *attrDef {
	return &attrDef{name: name, kind: kindNumber, num: slot, get: func(c *store.Contact) string {
		if e := *c.E164.Slots()[slot]; e != "" {
			return e
		}
		return *c.Numbers.Slots()[slot]
	}}
}

var (
	attrObjectClass = &attrDef{name: "objectClass", kind: kindClass}
	attrUID         = &attrDef{name: "uid", get: func(c *store.Contact) string { return strconv.FormatInt(c.ID, 10) }}
	attrCN          = &attrDef{name: "cn", kind: kindName, get: func(c *store.Contact) string { return c.DisplayName }}
	attrDisplay     = &attrDef{name: "displayName", kind: kindName, get: func(c *store.Contact) string { return c.DisplayName }}
	attrGiven       = &attrDef{name: "givenName", kind: kindName, get: func(c *store.Contact) string { return c.GivenName }}
	attrSN          = &attrDef{name: "sn", kind: kindName, get: func(c *store.Contact) string {
		if c.FamilyName != "" {
			return c.FamilyName
		}
		return c.DisplayName
	}}
	attrO      = &attrDef{name: "o", get: func(c *store.Contact) string { return c.Company }}
	attrOU     = &attrDef{name: "ou", get: func(c *store.Contact) string { return c.Department }}
	attrTitle  = &attrDef{name: "title", get: func(c *store.Contact) string { return c.Title }}
	attrMail   = &attrDef{name: "mail", get: func(c *store.Contact) string { return c.Email }}
	attrStreet = &attrDef{name: "street", get: func(c *store.Contact) string { return c.Street }}
	attrL      = &attrDef{name: "l", get: func(c *store.Contact) string { return c.City }}
	attrPostal = &attrDef{name: "postalCode", get: func(c *store.Contact) string { return c.PostalCode }}
	attrST     = &attrDef{name: "st", get: func(c *store.Contact) string { return c.Region }}
	attrWork   = numberAttr("telephoneNumber", 0)
	attrMobile = numberAttr("mobile", 1)
	attrHome   = numberAttr("homePhone", 2)
	attrFax    = numberAttr("facsimileTelephoneNumber", 3)
	attrOther  = numberAttr("otherTelephone", 4)
)

// userAttrs are the attributes "*" (or no selection) returns, in this order.
var userAttrs = []*attrDef{attrObjectClass, attrUID, attrCN, attrDisplay, attrGiven, attrSN, attrO, attrOU, attrTitle, attrMail,
	attrWork, attrMobile, attrHome, attrFax, attrOther, attrStreet, attrL, attrPostal, attrST}

// attrByName maps lower-case attribute names and aliases to their definition.
var attrByName = map[string]*attrDef{
	"objectclass": attrObjectClass, "uid": attrUID, "userid": attrUID,
	"cn": attrCN, "commonname": attrCN, "displayname": attrDisplay, "name": attrCN,
	"givenname": attrGiven, "gn": attrGiven, "sn": attrSN, "surname": attrSN,
	"o": attrO, "organizationname": attrO, "company": attrO, "ou": attrOU, "organizationalunitname": attrOU, "department": attrOU,
	"title": attrTitle, "mail": attrMail, "email": attrMail, "rfc822mailbox": attrMail,
	"telephonenumber": attrWork, "mobile": attrMobile, "mobiletelephonenumber": attrMobile,
	"homephone": attrHome, "hometelephonenumber": attrHome, "facsimiletelephonenumber": attrFax, "fax": attrFax,
	"othertelephone": attrOther, "ipphone": attrOther,
	"street": attrStreet, "streetaddress": attrStreet, "l": attrL, "localityname": attrL, "postalcode": attrPostal, "st": attrST,
}

var objectClasses = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}

// matcher evaluates filters for one tenant (numbers normalise with its country).
type matcher struct{ country string }

func (f *Filter) fold() *foldedParts {
	if f.folded == nil {
		fp := &foldedParts{value: directory.Fold(f.Value), initial: directory.Fold(f.Initial), final: directory.Fold(f.Final)}
		for _, a := range f.Any {
			fp.any = append(fp.any, directory.Fold(a))
		}
		f.folded = fp
	}
	return f.folded
}

// numberKeys returns the E.164 key and the digits of an equality assertion on a number.
func (m matcher) numberKeys(f *Filter) (string, string) {
	if !f.numDone {
		f.numKey, f.numDigit, f.numDone = directory.NumberKey(f.Value, m.country), directory.Digits(f.Value), true
	}
	return f.numKey, f.numDigit
}

func (m matcher) match(f *Filter, c *store.Contact) bool {
	switch f.Op {
	case OpAnd:
		for _, ch := range f.Children {
			if !m.match(ch, c) {
				return false
			}
		}
		return true
	case OpOr:
		for _, ch := range f.Children {
			if m.match(ch, c) {
				return true
			}
		}
		return false
	case OpNot:
		return !m.match(f.Children[0], c)
	}
	a := attrByName[f.Attr]
	if a == nil {
		return false
	}
	if a.kind == kindClass {
		return m.matchClass(f)
	}
	v := a.get(c)
	if v == "" {
		return false
	}
	switch f.Op {
	case OpPresent:
		return true
	case OpEqual:
		if a.kind == kindNumber {
			return m.numberEqual(f, c, a)
		}
		return directory.Fold(v) == f.fold().value
	case OpApprox:
		if a.kind == kindNumber {
			return m.numberEqual(f, c, a)
		}
		return directory.SoundsLike(v, f.Value) || directory.Fold(v) == directory.Fold(f.Value)
	case OpGreater:
		return directory.Fold(v) >= directory.Fold(f.Value)
	case OpLess:
		return directory.Fold(v) <= directory.Fold(f.Value)
	case OpSubstrings:
		if a.kind == kindNumber {
			return m.numberSubstrings(f, c, a)
		}
		fp := f.fold()
		return substrings(directory.Fold(v), fp.initial, fp.any, fp.final)
	}
	return false
}

func (m matcher) matchClass(f *Filter) bool {
	for _, oc := range objectClasses {
		l := strings.ToLower(oc)
		switch f.Op {
		case OpPresent:
			return true
		case OpEqual, OpApprox:
			if strings.EqualFold(f.Value, oc) {
				return true
			}
		case OpSubstrings:
			parts := make([]string, len(f.Any))
			for i, p := range f.Any {
				parts[i] = strings.ToLower(p)
			}
			if substrings(l, strings.ToLower(f.Initial), parts, strings.ToLower(f.Final)) {
				return true
			}
		}
	}
	return false
}

// substrings matches initial*any*...*final in order, without overlap.
func substrings(v, initial string, any []string, final string) bool {
	if !strings.HasPrefix(v, initial) {
		return false
	}
	v = v[len(initial):]
	for _, a := range any {
		i := strings.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return strings.HasSuffix(v, final)
}

func (m matcher) numberEqual(f *Filter, c *store.Contact, a *attrDef) bool {
	e164 := *c.E164.Slots()[a.num]
	k, d := m.numberKeys(f)
	if k != "" && e164 != "" {
		return e164[1:] == k
	}
	return d != "" && d == directory.Digits(*c.Numbers.Slots()[a.num])
}

func (m matcher) numberSubstrings(f *Filter, c *store.Contact, a *attrDef) bool {
	if directory.Digits(f.Initial+strings.Join(f.Any, "")+f.Final) == "" {
		// "Anna*" against a number: nothing to match on.
		return false
	}
	any := make([]string, len(f.Any))
	for i, p := range f.Any {
		any[i] = directory.Digits(p)
	}
	final := directory.Digits(f.Final)
	if e164 := *c.E164.Slots()[a.num]; e164 != "" {
		initial := directory.Digits(f.Initial)
		if f.Initial != "" {
			if k := directory.NumberPrefixKey(f.Initial, m.country); k != "" {
				initial = k
			}
		}
		if substrings(e164[1:], initial, any, final) {
			return true
		}
	}
	return substrings(directory.Digits(*c.Numbers.Slots()[a.num]), directory.Digits(f.Initial), any, final)
}

// plan returns the index candidates that can satisfy f.
func (m matcher) plan(f *Filter) directory.Plan {
	switch f.Op {
	case OpAnd:
		best := directory.Plan{All: true}
		for _, ch := range f.Children {
			if p := m.plan(ch); p.Cost() < best.Cost() {
				best = p
			}
		}
		return best
	case OpOr:
		var p directory.Plan
		for _, ch := range f.Children {
			p = p.Union(m.plan(ch))
			if p.All {
				return p
			}
		}
		return p
	case OpEqual, OpSubstrings:
	default:
		return directory.Plan{All: true}
	}
	a := attrByName[f.Attr]
	if a == nil {
		// An unknown attribute matches nothing.
		return directory.Plan{}
	}
	switch a.kind {
	case kindName:
		v := f.Value
		if f.Op == OpSubstrings {
			v = f.Initial
		}
		if directory.Fold(v) == "" {
			return directory.Plan{All: true}
		}
		return directory.NamePlan(v)
	case kindNumber:
		if f.Op == OpEqual {
			// The E.164 key, and the digits under which numbers that do not normalise are
			// indexed.
			var keys []string
			k, d := m.numberKeys(f)
			if k != "" {
				keys = append(keys, k)
			}
			if d != "" {
				keys = append(keys, "x"+d)
			}
			return directory.Plan{Numbers: keys}
		}
		if directory.Digits(f.Initial+strings.Join(f.Any, "")+f.Final) == "" {
			return directory.Plan{}
		}
		if directory.Digits(f.Initial+strings.Join(f.Any, "")+f.Final) == "" {
			return directory.Plan{}
		}
		if f.Initial != "" {
			if k := directory.NumberPrefixKey(f.Initial, m.country); k != "" {
				return directory.Plan{NumPrefixes: []string{k}}
			}
			return directory.Plan{All: true}
		}
		if len(f.Any) == 0 {
			if d := directory.Digits(f.Final); len(d) >= 3 {
				return directory.Plan{NumSuffixes: []string{d}}
			}
		}
	}
	return directory.Plan{All: true}
}
