package datacat

import "testing"

func TestPresetsCoverEveryCategoryAndValidate(t *testing.T) {
	for _, name := range PresetNames() {
		rules, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range Categories() {
			r, ok := rules[c]
			if !ok {
				t.Errorf("preset %s: no rule for %s", name, c)
				continue
			}
			if err := r.Validate(); err != nil {
				t.Errorf("preset %s: %v", name, err)
			}
		}
	}
	if _, err := Preset("mars"); err == nil {
		t.Fatal("unknown preset accepted")
	}
}

func TestPresetDifferences(t *testing.T) {
	def, _ := Preset("default")
	eu, _ := Preset("eu")
	de, _ := Preset("de")
	for _, c := range []struct {
		name string
		got  Rule
		mode Mode
		days int
	}{
		{"default traffic", def[Traffic], Anonymise, 30},
		{"de traffic", de[Traffic], Anonymise, 7},
		{"default billing", def[Billing], Anonymise, 730},
		{"eu billing", eu[Billing], Anonymise, 183},
		{"de billing", de[Billing], Anonymise, 183},
		{"recordings default", def[UserContent], Delete, 90},
		{"debug traces", def[DebugTraces], Delete, 28},
		{"update logs", def[UpdateLogs], Anonymise, 14},
		{"presence", def[Presence], NeverStored, 0},
		{"directory queries", def[DirectoryQueries], NeverStored, 0},
	} {
		if c.got.Mode != c.mode || c.got.Days != c.days {
			t.Errorf("%s: %+v, want %s %d", c.name, c.got, c.mode, c.days)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	bad := []Rule{
		{Category: "nope", Mode: Delete, Days: 1, OnDeactivation: EraseNA},
		{Category: Traffic, Mode: Delete, Days: 0, OnDeactivation: EraseNA},
		{Category: Traffic, Mode: WhileActive, Days: 3, OnDeactivation: EraseNA},
		{Category: Traffic, Mode: "forever", OnDeactivation: EraseNA},
		{Category: Traffic, Mode: Delete, Days: 3, OnDeactivation: "shrug"},
	}
	for _, r := range bad {
		if r.Validate() == nil {
			t.Errorf("accepted %+v", r)
		}
	}
}
