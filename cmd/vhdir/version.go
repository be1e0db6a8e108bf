package main

import (
	"context"
	"crypto/fips140"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…"; without
// it the module version (or "devel") is shown.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func fipsMode() string {
	if fips140.Enabled() {
		return fmt.Sprintf("on (Go Cryptographic Module %s)", fips140.Version())
	}
	return "off"
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vhdir %s\ngo %s %s/%s\nfips140 %s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH, fipsMode())
	return nil
}
