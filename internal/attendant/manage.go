package attendant

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/privox/privox/internal/store"
)

// The attendant's configuration as the API and the CLI change it: every save is checked on
// its own and, for menus, together with the tenant's other menus for loops.

// SaveMenu validates and stores a tenant's menu (created or replaced by name).
func SaveMenu(ctx context.Context, db *store.DB, tenantID int64, name, number string, spec []byte) (store.Menu, error) {
	if err := ValidName(name); err != nil {
		return store.Menu{}, err
	}
	if err := ValidNumber(number); err != nil {
		return store.Menu{}, err
	}
	m, err := ParseMenu(spec)
	if err != nil {
		return store.Menu{}, err
	}
	if number != "" {
		if _, err := db.ExtensionByNumber(ctx, tenantID, number); err == nil {
			return store.Menu{}, fieldErr("number", "%s is an extension", number)
		}
	}
	all, err := db.ListMenus(ctx, tenantID)
	if err != nil {
		return store.Menu{}, err
	}
	menus := map[string]Menu{name: m}
	for _, row := range all {
		if row.Name == name {
			continue
		}
		var other Menu
		if json.Unmarshal(row.Spec, &other) == nil {
			menus[row.Name] = other
		}
	}
	if err := CheckLoops(menus); err != nil {
		return store.Menu{}, &FieldError{Field: "spec", Msg: err.Error()}
	}
	canon, err := json.Marshal(m)
	if err != nil {
		return store.Menu{}, fmt.Errorf("attendant: %w", err)
	}
	return db.PutMenu(ctx, store.Menu{TenantID: tenantID, Name: name, Number: number, Spec: canon})
}

// SaveCalendar validates and stores a tenant's calendar.
func SaveCalendar(ctx context.Context, db *store.DB, tenantID int64, name string, spec []byte) (store.Calendar, error) {
	if err := ValidName(name); err != nil {
		return store.Calendar{}, err
	}
	c, err := ParseCalendar(spec)
	if err != nil {
		return store.Calendar{}, err
	}
	canon, err := json.Marshal(c)
	if err != nil {
		return store.Calendar{}, fmt.Errorf("attendant: %w", err)
	}
	return db.PutCalendar(ctx, store.Calendar{TenantID: tenantID, Name: name, Spec: canon})
}
