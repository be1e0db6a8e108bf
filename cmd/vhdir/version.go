package main

import (
	"context"
	"crypto/fips140"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
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

// validatedFIPS are the Go Cryptographic Module versions with a CMVP
// certificate (v1.0.0: #5247). Others ("latest", the toolchain's own tree;
// a frozen version still in process) are not validated; a version
// certified later is added here.
var validatedFIPS = []string{"v1.0.0"}

// fipsMode says whether FIPS 140-3 mode is on and which Go Cryptographic
// Module the binary holds (fips140.Version: "latest" unless built with
// GOFIPS140), so that an operator can tell the validated build apart.
func fipsMode() string { return fipsDescription(fips140.Enabled(), fips140.Version()) }

func fipsDescription(enabled bool, module string) string {
	mode, status := "off", "not validated"
	if enabled {
		mode = "on"
	}
	if slices.Contains(validatedFIPS, module) {
		status = "CMVP validated"
	}
	return fmt.Sprintf("%s, module %s (%s)", mode, module, status)
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vhdir %s\ngo %s %s/%s\nfips140 %s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH, fipsMode())
	return nil
}
