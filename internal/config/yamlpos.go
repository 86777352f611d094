package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxProbeLines bounds the search for a syntax error's line (one parse per line).
const maxProbeLines = 1000

// syntaxProblem turns a YAML syntax error into a problem at the line where the error is.
// yaml.v3 reports the line where the enclosing block starts (a mis-indented key on line 3 of a
// mapping that starts on line 1 is reported at line 1) or, for an unclosed quote, the end of
// the file. The line that breaks the file is the last one whose addition turns a document
// that parses into one that does not: the first L lines fail, the first L-1 lines parse.
func syntaxProblem(path string, data []byte, err error) Problem {
	msg := err.Error()
	yamlLine, _ := yamlErrLine(msg)
	if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "yaml: ") {
		msg = rest
	}
	if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
		msg = rest
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	line := yamlLine
	if len(lines) <= maxProbeLines {
		prefix := 0
		parsesBefore := true // zero lines: an empty document
		for l := 1; l <= len(lines); l++ {
			prefix += len(lines[l-1])
			parses := parsesYAML(data[:prefix])
			if parsesBefore && !parses {
				line = l
			}
			parsesBefore = parses
		}
	}
	switch {
	case strings.Contains(msg, "end of stream"):
		msg += " (a quote or bracket opened on this line is not closed)"
	case yamlLine > 0 && yamlLine < line:
		msg += fmt.Sprintf(" (in the block that starts at line %d)", yamlLine)
	}
	return Problem{File: path, Line: line, Key: "(syntax)", Msg: msg}
}

// parsesYAML reports whether data is a sequence of well-formed YAML documents.
func parsesYAML(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}
