package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vhdir/vhdir/internal/profile"
)

// newFlags returns a flag set for a subcommand whose usage lists every flag
// with its env twin and default.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vhdir "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vhdir %s\n\nFlags (each also read from its environment variable):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(stderr, "  --%s  [%s]\n      %s%s\n", f.Name, envName(name, f.Name), f.Usage, def)
		})
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command
// line from its environment twin: flag > environment > default.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := envName(strings.TrimPrefix(fs.Name(), "vhdir "), f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

// envName is the environment twin of a command's flag: --max-body →
// VHDIR_MAX_BODY. A flag whose value must differ between commands that
// share an environment has its command in its twin's name (ownEnv).
func envName(command, flagName string) string {
	name := strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	if ownEnv[command][flagName] {
		name = strings.ToUpper(command) + "_" + name
	}
	return "VHDIR_" + name
}

// ownEnv are the flags of a command whose twins name the command: the
// console listens apart from the server (--addr: VHDIR_CONSOLE_ADDR).
var ownEnv = map[string]map[string]bool{
	"console": {"addr": true, "allow-remote": true, "plain-http": true},
}

// profileMode is --profile-validation, checked as it is set.
type profileMode profile.Mode

const profileValidationUsage = "what a write does with errors against R4 and the VhDir profiles: enforce (422 with the issues, nothing stored), warn (stored, the issues returned with Prefer: return=OperationOutcome and in Bundle entry outcomes), off (R4 structure only)"

func (m *profileMode) String() string { return profile.Mode(*m).String() }

func (m *profileMode) Set(v string) error {
	mode, err := profile.ParseMode(v)
	if err != nil {
		return err
	}
	*m = profileMode(mode)
	return nil
}
