// Package library embeds Penah's built-in flows: the default intake and the info flow. Admins'
// own flows are files read with flows.Read; these are the ones a fresh install starts with.
package library

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	"github.com/penahbot/penah/flows"
)

//go:embed *.yaml
var files embed.FS

// Main is the flow a plain /start begins.
const Main flows.ID = "intake"

// Names lists the embedded flow files.
func Names() []string {
	names, _ := fs.Glob(files, "*.yaml") // the pattern is constant and valid
	return names
}

// Load reads every embedded flow. It does not validate them: callers compile them, which does.
func Load() ([]*flows.Flow, error) {
	var out []*flows.Flow
	for _, name := range Names() {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("library: %w", err)
		}
		f, err := flows.Read(path.Join("flows/library", name), data)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
