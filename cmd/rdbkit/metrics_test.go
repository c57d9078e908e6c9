package main

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

func TestMetricsAddrUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"restore", []string{"restore", "dump.rdb", "--to", "redis://127.0.0.1:1"}},
		{"copy", []string{"copy", "--from", "redis://127.0.0.1:1", "--to", "redis://127.0.0.1:2"}},
		{"sync", []string{"sync", "--from", "redis://127.0.0.1:1", "--to", "redis://127.0.0.1:2"}},
	}
	for _, tt := range tests {
		for _, addr := range []string{"9121", "localhost", "[::1"} {
			t.Run(tt.name+"/"+addr, func(t *testing.T) {
				code, stdout, stderr := runCLI(t, append(tt.args, "--metrics-addr", addr)...)
				if code != exitUsage || stdout != "" || !strings.Contains(stderr, "--metrics-addr \""+addr+"\": want HOST:PORT") ||
					!strings.Contains(stderr, "rdbkit "+tt.name+" --help") {
					t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
			})
		}
	}
}

func TestMetricsCollector(t *testing.T) {
	specs := []metricSpec{
		{"t_phase", prometheus.GaugeValue, "phase", "The phase."},
		{"t_keys_total", prometheus.CounterValue, "", "Keys."},
	}
	tests := []struct {
		name    string
		read    func() samples
		want    string // the text exposition
		wantErr string
	}{
		{"ok", func() samples {
			var s samples
			s.addPhase("t_phase", []string{"a", "b"}, 1)
			s.add("t_keys_total", 42)
			return s
		}, "# HELP t_keys_total Keys.\n# TYPE t_keys_total counter\nt_keys_total 42\n" +
			"# HELP t_phase The phase.\n# TYPE t_phase gauge\nt_phase{phase=\"a\"} 0\nt_phase{phase=\"b\"} 1\n", ""},
		{"not described", func() samples {
			var s samples
			s.add("t_other", 1)
			return s
		}, "", "metric not described"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			if err := reg.Register(newRunCollector(specs, tt.read)); err != nil {
				t.Fatal(err)
			}
			fams, err := reg.Gather()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, f := range fams {
				if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
					t.Fatal(err)
				}
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}
