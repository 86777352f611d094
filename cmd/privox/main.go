// Command privox is the Privox phone system: one binary for the server and its administration.
package main

import (
	"os"

	"github.com/privox/privox/internal/app"
)

func main() {
	os.Exit(app.Main(app.Env{Args: os.Args[1:], Environ: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin}))
}
