// Command vhdir is the Validated Healthcare Directory server and its tools:
// one binary with subcommands. This package parses flags (each with an
// environment twin VHDIR_<FLAG>) and wires the internal packages together;
// it holds no logic of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"serve", "run the FHIR server", runServe},
	{"load", "load resources from Bundle, NDJSON or resource files and folders", runLoad},
	{"validate", "check resources against R4 and the VhDir profiles (files, folders, NDJSON, Bundles), offline", runValidate},
	{"gen", "generate a realistic synthetic directory as NDJSON", runGen},
	{"clients", "register and manage client systems (add, list, show, disable, enable)", runClients},
	{"keygen", "make a key pair for a client system (its JWK Set to register, its private key)", runKeygen},
	{"console", "serve the operator console: clients, the audit trail, data and exports in a browser", runConsole},
	{"audit", "check the audit trail's integrity (verify)", runAudit},
	{"token", "get an access token as a registered client (SMART Backend Services), for scripts", runToken},
	{"version", "print the version, Go version and FIPS 140 mode", runVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors already explained by a usage message.
var errUsage = errors.New("usage")

// exitError carries an exit status chosen by a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ee exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ee):
			return ee.code
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "vhdir %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "vhdir: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "vhdir: a Validated Healthcare Directory (HL7 VhDir, FHIR R4) server.")
	fmt.Fprintln(w, "\nUsage: vhdir <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery flag has an environment twin: --max-body is VHDIR_MAX_BODY. Run vhdir <command> --help for its flags.")
}
