package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/urfave/cli/v2"
)

type probeOptions struct {
	dest destOptions
	json bool
}

func probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "show what a live server allows: version, RDB version, topology, permissions, limits",
		ArgsUsage: "URL",
		Description: "probe connects to the server and reports its version and RDB version, whether it is\n" +
			"standalone, a Cluster or a replica, whether this user may run DUMP, RESTORE, MSETNX, SYNC/PSYNC,\n" +
			"CONFIG, FUNCTION, SCAN and SELECT (ACL DRYRUN where the server has it and the user may use\n" +
			"it, otherwise a harmless try, otherwise \"unknown\"), proto-max-bulk-len (\"unknown\" when\n" +
			"CONFIG is refused), maxmemory and the headroom left. It writes nothing.\n" +
			"URL: redis://[[user]:password@]host[:port], rediss://... for TLS, unix:///path/to/socket.",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "write the result as a JSON object"},
		}, destFlags()...),
		Action: func(c *cli.Context) error {
			url, err := fileArg(c)
			if err != nil {
				return usagef("probe", "%v", strings.Replace(err.Error(), "FILE", "URL", 1))
			}
			return runProbe(c.Context, probeOptions{dest: destOptionsFrom(c, url), json: c.Bool("json")}, c.App.Writer)
		},
	}
}

// probeReport is probe's --json output.
type probeReport struct {
	URL string `json:"url"` // redacted
	*loader.Probe
}

func runProbe(ctx context.Context, opts probeOptions, stdout io.Writer) error {
	ro, ep, err := opts.dest.redisOptions("probe")
	if err != nil {
		return err
	}
	quietRedisLogs()
	p, err := loader.ProbeServer(ctx, ro)
	if err != nil {
		return fmt.Errorf("probe %s: %w", ep.Redacted(), err)
	}
	rep := probeReport{URL: ep.Redacted(), Probe: p}
	if opts.json {
		return writeJSON(stdout, rep)
	}
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-20s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	line("url", "%s", rep.URL)
	line("server", "%s %s", p.Server, p.Version)
	line("rdb version", "%d", p.RDBVersion)
	topo := p.Mode
	if p.ClusterMasters > 0 {
		topo += fmt.Sprintf(" (%d masters)", p.ClusterMasters)
	}
	line("mode", "%s, %s", topo, p.Role)
	if p.User != "" {
		line("user", "%s", p.User)
	}
	if p.ProtoMaxBulkLen >= 0 {
		line("proto-max-bulk-len", "%s", byteSize(p.ProtoMaxBulkLen))
	} else {
		line("proto-max-bulk-len", "unknown (CONFIG GET refused; restore takes --max-payload)")
	}
	if p.MaxMemory > 0 {
		line("maxmemory", "%s, used %s, headroom %s (policy %s)", byteSize(p.MaxMemory), byteSize(p.UsedMemory), byteSize(p.Headroom), p.MaxMemoryPolicy)
	} else {
		line("maxmemory", "no limit, used %s", byteSize(p.UsedMemory))
	}
	for _, pm := range p.Permissions {
		detail := ""
		if pm.Detail != "" {
			detail = " (" + pm.Detail + ")"
		}
		line("permits "+pm.Command, "%s%s", pm.Allowed, detail)
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}
