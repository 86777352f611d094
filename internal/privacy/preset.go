package privacy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/store"
)

// PresetChange is what switching a tenant's retention preset did.
type PresetChange struct {
	TenantID int64  `json:"tenant_id"`
	Previous string `json:"previous"`
	Preset   string `json:"preset"`
	// Removed lists the tenant's own rules that the switch removed so that the preset applies
	// to every category (with their values, to set them again if they were wanted).
	Removed []store.RetentionRule `json:"removed"`
	// Rules are the rules that apply in the tenant now.
	Rules []EffectiveRule `json:"rules"`
}

// SetPreset switches a tenant to a retention preset (default, eu, de): the preset's rule then
// applies to every category of the tenant. Rules the tenant set for itself are removed (they
// are returned, and named in the audit entry); installation-wide rules (the audit log) stay.
// The tenant's row and its rules change in one transaction; the change is audited.
func (e *Engine) SetPreset(ctx context.Context, tenantID int64, preset string, a Actor) (PresetChange, error) {
	if tenantID == store.InstallationTenant {
		return PresetChange{}, invalid("preset: presets are chosen per tenant; name the tenant")
	}
	if !slices.Contains(datacat.PresetNames(), preset) {
		return PresetChange{}, invalid("preset: must be one of %s, not %q", strings.Join(datacat.PresetNames(), ", "), preset)
	}
	ch := PresetChange{TenantID: tenantID, Preset: preset, Removed: []store.RetentionRule{}}
	err := e.db.InTx(ctx, func(tx *store.DB) error {
		t, err := tx.Tenant(ctx, tenantID)
		if err != nil {
			return err
		}
		ch.Previous = t.RetentionPreset
		t.RetentionPreset = preset
		if err := tx.UpdateTenant(ctx, t); err != nil {
			return err
		}
		own, err := tx.RetentionRules(ctx, tenantID)
		if err != nil {
			return err
		}
		for _, r := range own {
			if err := tx.DeleteRetentionRule(ctx, tenantID, r.Category, r.Kind); err != nil {
				return err
			}
			ch.Removed = append(ch.Removed, r)
		}
		removed := make([]string, len(ch.Removed))
		for i, r := range ch.Removed {
			removed[i] = ruleName(datacat.Category(r.Category), r.Kind)
		}
		detail := fmt.Sprintf("preset=%s previous=%s", preset, ch.Previous)
		if len(removed) > 0 {
			detail += " removed=" + strings.Join(removed, ",")
		}
		// The entry is written with the switch: no switch without its record.
		return e.audit(ctx, tx, a, tenantID, "retention.preset", "tenant", tenantID, detail)
	})
	if err != nil {
		return PresetChange{}, err
	}
	b, err := e.loadRules(ctx)
	if err != nil {
		return PresetChange{}, err
	}
	ch.Rules = b.all(tenantID)
	return ch, nil
}
