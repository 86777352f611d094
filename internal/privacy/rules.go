package privacy

import (
	"context"
	"fmt"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/store"
)

// EffectiveRule is the retention rule that applies to a category (or one kind of content) in
// a tenant, with where it comes from.
type EffectiveRule struct {
	datacat.Rule
	Kind string `json:"kind,omitempty"`
	// Source is "preset:<name>", "kind" (the kind's own default), "tenant" or "installation"
	// (a stored override).
	Source string `json:"source"`
	// Scope is "tenant", or "installation" for categories that span every tenant (the audit
	// log is one hash chain) and for installation tables.
	Scope string `json:"scope"`
	// Text says the rule in a sentence (English).
	Text string `json:"text"`
}

type ruleKey struct {
	c    datacat.Category
	kind string
}

// ruleBook resolves rules for every tenant from presets and stored overrides. The sweeper
// loads one per run; API calls load one per request.
type ruleBook struct {
	instPreset   string
	tenantPreset map[int64]string
	over         map[int64]map[ruleKey]store.RetentionRule
	presets      map[string]map[datacat.Category]datacat.Rule
}

func (e *Engine) loadRules(ctx context.Context) (*ruleBook, error) {
	b := &ruleBook{instPreset: e.opt.Preset, tenantPreset: map[int64]string{}, over: map[int64]map[ruleKey]store.RetentionRule{},
		presets: map[string]map[datacat.Category]datacat.Rule{}}
	for _, name := range datacat.PresetNames() {
		p, err := datacat.Preset(name)
		if err != nil {
			return nil, err
		}
		b.presets[name] = p
	}
	if _, ok := b.presets[b.instPreset]; !ok {
		return nil, fmt.Errorf("privacy: unknown installation preset %q", b.instPreset)
	}
	for p := (store.Page{Limit: 1000}); ; {
		ts, err := e.db.ListTenants(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			b.tenantPreset[t.ID] = t.RetentionPreset
		}
		if len(ts) < p.Limit {
			break
		}
		p.After = ts[len(ts)-1].ID
	}
	rs, err := e.db.AllRetentionRules(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		m := b.over[r.TenantID]
		if m == nil {
			m = map[ruleKey]store.RetentionRule{}
			b.over[r.TenantID] = m
		}
		m[ruleKey{datacat.Category(r.Category), r.Kind}] = r
	}
	return b, nil
}

// installationScoped reports whether a category's rule is set for the whole installation:
// true when one of its tables is a hash chain, which cannot be cut per tenant.
func installationScoped(c datacat.Category) bool {
	for _, t := range datacat.Tables() {
		if t.Category == c && t.HashColumn != "" {
			return true
		}
	}
	return false
}

// hasSystemTable reports whether a category has a table that belongs to no tenant, whose rule
// is the installation's.
func hasSystemTable(c datacat.Category) bool {
	for _, t := range datacat.Tables() {
		if t.Category == c && t.TenantColumn == "" {
			return true
		}
	}
	return false
}

func fileKind(kind string) (datacat.FileKind, bool) {
	for _, k := range datacat.FileKinds() {
		if k.Kind == kind {
			return k, true
		}
	}
	return datacat.FileKind{}, false
}

// rule resolves the rule of a category (and kind) in a tenant: a stored rule for the kind,
// the kind's own default, a stored rule for the category, the preset.
func (b *ruleBook) rule(tenantID int64, c datacat.Category, kind string) EffectiveRule {
	scope := "tenant"
	if tenantID == store.InstallationTenant || installationScoped(c) {
		tenantID, scope = store.InstallationTenant, "installation"
	}
	overSource := "tenant"
	preset := b.tenantPreset[tenantID]
	if tenantID == store.InstallationTenant {
		overSource, preset = "installation", b.instPreset
	}
	rules, ok := b.presets[preset]
	if !ok {
		preset, rules = b.instPreset, b.presets[b.instPreset]
	}
	base := EffectiveRule{Rule: rules[c], Source: "preset:" + preset, Scope: scope}
	if o, ok := b.over[tenantID][ruleKey{c, ""}]; ok {
		base = EffectiveRule{Rule: datacat.Rule{Category: c, Mode: datacat.Mode(o.Mode), Days: o.Days, OnDeactivation: datacat.OnDeactivation(o.OnDeactivation)},
			Source: overSource, Scope: scope}
	}
	if kind != "" {
		base.Kind = kind
		if o, ok := b.over[tenantID][ruleKey{c, kind}]; ok {
			base.Rule = datacat.Rule{Category: c, Mode: datacat.Mode(o.Mode), Days: o.Days, OnDeactivation: datacat.OnDeactivation(o.OnDeactivation)}
			base.Source = overSource
		} else if fk, ok := fileKind(kind); ok && fk.Mode != "" {
			base.Mode, base.Days, base.Source = fk.Mode, fk.Days, "kind"
		}
	}
	base.Text = ruleText(base.Rule, "en")
	return base
}

// Rules lists the rules that apply in a tenant (store.InstallationTenant: the installation's):
// one per category, and one per kind of content.
func (e *Engine) Rules(ctx context.Context, tenantID int64) ([]EffectiveRule, error) {
	if tenantID != store.InstallationTenant {
		if _, err := e.db.Tenant(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	b, err := e.loadRules(ctx)
	if err != nil {
		return nil, err
	}
	return b.all(tenantID), nil
}

func (b *ruleBook) all(tenantID int64) []EffectiveRule {
	var out []EffectiveRule
	for _, c := range datacat.Categories() {
		out = append(out, b.rule(tenantID, c, ""))
		for _, k := range datacat.FileKinds() {
			if k.Category == c {
				out = append(out, b.rule(tenantID, c, k.Kind))
			}
		}
	}
	return out
}

// RuleChange is a request to change one rule.
type RuleChange struct {
	Category datacat.Category `json:"category"`
	// Kind narrows the rule to one kind of content ("recording"); empty for the category.
	Kind           string                 `json:"kind,omitempty"`
	Mode           datacat.Mode           `json:"mode"`
	Days           int                    `json:"days,omitempty"`
	OnDeactivation datacat.OnDeactivation `json:"on_deactivation,omitempty"`
}

// SetRule stores a rule for a tenant (store.InstallationTenant for the installation). An empty
// OnDeactivation keeps the one that applies now.
func (e *Engine) SetRule(ctx context.Context, tenantID int64, ch RuleChange, a Actor) (EffectiveRule, error) {
	b, err := e.checkChange(ctx, tenantID, ch.Category, ch.Kind)
	if err != nil {
		return EffectiveRule{}, err
	}
	cur := b.rule(tenantID, ch.Category, ch.Kind)
	if ch.OnDeactivation == "" {
		ch.OnDeactivation = cur.OnDeactivation
	}
	r := datacat.Rule{Category: ch.Category, Mode: ch.Mode, Days: ch.Days, OnDeactivation: ch.OnDeactivation}
	if err := r.Validate(); err != nil {
		return EffectiveRule{}, invalid("%v", err)
	}
	if r.Mode == datacat.NeverStored {
		return EffectiveRule{}, invalid("category %s is stored; never_stored would not make it so", r.Category)
	}
	if r.Timed() {
		for _, t := range datacat.Tables() {
			if t.Category == r.Category && !sweepableByAge(t) {
				return EffectiveRule{}, invalid("category %s: table %s has no time to count a period from; only while_active or until_deleted apply", r.Category, t.Name)
			}
		}
	}
	err = e.db.InTx(ctx, func(tx *store.DB) error {
		err := tx.SetRetentionRule(ctx, store.RetentionRule{TenantID: tenantID, Category: string(r.Category), Kind: ch.Kind, Mode: string(r.Mode),
			Days: r.Days, OnDeactivation: string(r.OnDeactivation)})
		if err != nil {
			return err
		}
		return e.audit(ctx, tx, a, tenantID, "retention.set", "retention", ruleName(ch.Category, ch.Kind), fmt.Sprintf("mode=%s days=%d on_deactivation=%s", r.Mode, r.Days, r.OnDeactivation))
	})
	if err != nil {
		return EffectiveRule{}, err
	}
	b, err = e.loadRules(ctx)
	if err != nil {
		return EffectiveRule{}, err
	}
	return b.rule(tenantID, ch.Category, ch.Kind), nil
}

// ResetRule removes a stored rule so that the preset (or the kind's default) applies again.
func (e *Engine) ResetRule(ctx context.Context, tenantID int64, c datacat.Category, kind string, a Actor) (EffectiveRule, error) {
	if _, err := e.checkChange(ctx, tenantID, c, kind); err != nil {
		return EffectiveRule{}, err
	}
	err := e.db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.DeleteRetentionRule(ctx, tenantID, string(c), kind); err != nil {
			return err
		}
		return e.audit(ctx, tx, a, tenantID, "retention.reset", "retention", ruleName(c, kind), "")
	})
	if err != nil {
		return EffectiveRule{}, err
	}
	b, err := e.loadRules(ctx)
	if err != nil {
		return EffectiveRule{}, err
	}
	return b.rule(tenantID, c, kind), nil
}

func (e *Engine) checkChange(ctx context.Context, tenantID int64, c datacat.Category, kind string) (*ruleBook, error) {
	if datacat.Description(c) == "" {
		return nil, invalid("unknown category %q", c)
	}
	if kind != "" {
		fk, ok := fileKind(kind)
		if !ok || fk.Category != c {
			return nil, invalid("category %s has no kind %q", c, kind)
		}
	}
	if tenantID == store.InstallationTenant && !installationScoped(c) && !hasSystemTable(c) {
		return nil, invalid("the %s rule is set per tenant (its tenants' presets apply); name the tenant", c)
	}
	if tenantID != store.InstallationTenant {
		if installationScoped(c) {
			return nil, invalid("the %s rule is installation-wide (the audit log is one hash chain across tenants); set it without a tenant", c)
		}
		if _, err := e.db.Tenant(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	b, err := e.loadRules(ctx)
	if err != nil {
		return nil, err
	}
	if b.rule(tenantID, c, "").Mode == datacat.NeverStored {
		return nil, invalid("category %s is never stored; there is nothing to keep or delete", c)
	}
	return b, nil
}

func ruleName(c datacat.Category, kind string) string {
	if kind == "" {
		return string(c)
	}
	return string(c) + "/" + kind
}

// sweepableByAge reports whether the sweeper can expire a table's rows by age: it needs a
// time column, and the rows must not be the owners themselves (users, tenants), which go by
// erasure or termination instead.
func sweepableByAge(t datacat.Table) bool {
	return t.TimeColumn != "" && t.UserColumn != "id" && t.TenantColumn != "id"
}
