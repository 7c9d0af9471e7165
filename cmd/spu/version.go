package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionJSON is the output of spu version --json.
type versionJSON struct {
	// Version is the -ldflags version, else the module version ("(devel)"
	// for a build from a checkout).
	Version string `json:"version"`
	// Revision, Time and Modified come from the build's VCS stamp; they are
	// empty (Modified null) when the binary carries none.
	Revision string `json:"revision"`
	Time     string `json:"time"`
	Modified *bool  `json:"modified"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// buildVersion reads the version and VCS stamp from bi (nil: none).
func buildVersion(bi *debug.BuildInfo) versionJSON {
	v := versionJSON{Version: version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi == nil {
		if v.Version == "" {
			v.Version = "(unknown)"
		}
		return v
	}
	if v.Version == "" {
		v.Version = bi.Main.Version
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			m := s.Value == "true"
			v.Modified = &m
		}
	}
	return v
}

// String is the one-line form: version, commit (12 hex digits, "+dirty"
// when the tree had uncommitted changes), commit time, toolchain.
func (v versionJSON) String() string {
	s := "spu " + v.Version
	switch {
	case v.Revision != "":
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if v.Modified != nil && *v.Modified {
			rev += "+dirty"
		}
		s += " " + rev
		if v.Time != "" {
			s += " " + v.Time
		}
	case v.Version == "(devel)":
		// go build sets no VCS stamp with -buildvcs=false, outside a git
		// checkout or in a git worktree: say so rather than look released.
		s += " (no commit recorded: build in a git checkout with go build -buildvcs=true, or make build)"
	}
	return fmt.Sprintf("%s (%s %s/%s)", s, v.Go, v.OS, v.Arch)
}

const versionHelp = `Prints the version: the release (or "(devel)"), the git commit the binary
was built from ("+dirty" when the tree had uncommitted changes) and its
time, and the Go toolchain and platform. The commit comes from the Go build
stamp (runtime/debug.BuildInfo), which go build records in a git checkout
unless -buildvcs=false; make build asks for it explicitly.
`

// runVersion is spu version (also spu --version).
func runVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	f := newBoardlessFlags("version", "spu version [--json]", versionHelp)
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	v := currentVersion()
	if f.json {
		return writeJSON(stdout, v)
	}
	_, err := fmt.Fprintln(stdout, v)
	return err
}

// currentVersion is this binary's version, as spu version prints it.
func currentVersion() versionJSON {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return buildVersion(bi)
}
