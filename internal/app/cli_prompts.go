package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/prompts"
)

func init() {
	addCommand(command{"prompts generate", "prompts generate   (synthesise missing system prompts with espeak-ng)", runPromptsGenerate})
	addCommand(command{"prompts list", "prompts list --tenant T [--lang en|de]", runPromptsList})
	addCommand(command{"prompts set", "prompts set --tenant T --lang en|de --name PROMPT [--format pcmu|pcma] FILE.wav|-", runPromptsSet})
	addCommand(command{"prompts reset", "prompts reset --tenant T --lang en|de --name PROMPT", runPromptsReset})
	addCommand(command{"prompts get", "prompts get --tenant T --lang en|de --name PROMPT --out FILE.wav", runPromptsGet})
}

// promptLibrary opens the prompt library over the configured store and content files.
func (c *cmdCtx) promptLibrary() (*prompts.Library, error) {
	db, err := c.store()
	if err != nil {
		return nil, err
	}
	vault, err := keys.Open(keys.DefaultDir(c.cfg.DataDir))
	if err != nil {
		return nil, err
	}
	files, err := filestore.New(filepath.Join(c.cfg.DataDir, "files"), db, vault)
	if err != nil {
		return nil, err
	}
	return prompts.Open(promptDir(c.cfg.Prompts.Dir, c.cfg.DataDir), db, files)
}

func (c *cmdCtx) promptKey() (lang, name string, err error) {
	lang, name = c.str("lang"), c.str("name")
	if lang == "" || name == "" {
		return "", "", usageErr("--lang and --name are required")
	}
	if !prompts.Valid(lang, name) {
		return "", "", fmt.Errorf("no prompt %q in language %q (see privox prompts list; own prompts are named custom-…)", name, lang)
	}
	return lang, name, nil
}

func runPromptsGenerate(c *cmdCtx) error {
	dir := promptDir(c.cfg.Prompts.Dir, c.cfg.DataDir)
	rep, err := prompts.Generate(c.ctx, dir, prompts.GenerateOptions{})
	if err != nil {
		return err
	}
	return c.out(rep, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "generated %d, already current %d, in %s\n", rep.Generated, rep.Kept, dir)
	})
}

func runPromptsList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	lib, err := c.promptLibrary()
	if err != nil {
		return err
	}
	all, err := lib.List(c.ctx, t.ID)
	if err != nil {
		return err
	}
	var es []prompts.Entry
	for _, e := range all {
		if l := c.str("lang"); l == "" || l == e.Lang {
			es = append(es, e)
		}
	}
	return c.out(es, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "LANG\tNAME\tSOURCE\tSECONDS\tTEXT")
		for _, e := range es {
			src := "system"
			switch {
			case e.Replaced:
				src = "tenant"
			case !e.Generated:
				src = "missing"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%.1f\t%s\n", e.Lang, e.Name, src, float64(e.DurationMS)/1000, e.Text)
		}
	})
}

func runPromptsSet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	lang, name, err := c.promptKey()
	if err != nil {
		return err
	}
	if len(c.args) != 1 {
		return usageErr("one audio file (or - for standard input) is required")
	}
	up := prompts.Upload{}
	switch strings.ToLower(c.str("format")) {
	case "":
	case "pcmu":
		v := audio.PCMU
		up.Raw = &v
	case "pcma":
		v := audio.PCMA
		up.Raw = &v
	default:
		return usageErr("--format is pcmu or pcma (raw G.711); omit it for WAV")
	}
	var in io.Reader = os.Stdin
	if c.args[0] != "-" {
		f, err := os.Open(c.args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	up.Body = in
	lib, err := c.promptLibrary()
	if err != nil {
		return err
	}
	p, err := lib.Replace(c.ctx, t.ID, lang, name, up)
	if err != nil {
		return err
	}
	c.audit(t.ID, "prompt.replace", "prompt", lang+"/"+name, "")
	return c.out(p, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "tenant %s now plays its own %s/%s\n", t.Name, lang, name)
	})
}

func runPromptsReset(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	lang, name, err := c.promptKey()
	if err != nil {
		return err
	}
	lib, err := c.promptLibrary()
	if err != nil {
		return err
	}
	if err := lib.Reset(c.ctx, t.ID, lang, name); err != nil {
		return fmt.Errorf("reset %s/%s: %w", lang, name, err)
	}
	c.audit(t.ID, "prompt.reset", "prompt", lang+"/"+name, "")
	return c.out(map[string]string{"lang": lang, "name": name, "source": "system"}, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "tenant %s plays the system %s/%s again\n", t.Name, lang, name)
	})
}

func runPromptsGet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	lang, name, err := c.promptKey()
	if err != nil {
		return err
	}
	out := c.str("out")
	if out == "" {
		return usageErr("--out is required")
	}
	lib, err := c.promptLibrary()
	if err != nil {
		return err
	}
	clip, err := lib.Clip(c.ctx, t.ID, lang, name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, audio.ClipWAV(clip), 0o600); err != nil {
		return err
	}
	c.audit(t.ID, "prompt.download", "prompt", lang+"/"+name, "")
	return c.out(map[string]any{"out": out, "seconds": clip.Duration().Seconds()}, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "wrote %s (%.1f s)\n", out, clip.Duration().Seconds())
	})
}
