package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"
)

// metricsFlag is --metrics-addr of restore, copy and sync.
func metricsFlag() cli.Flag {
	return &cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus metrics on `HOST:PORT` (/metrics) while the command runs"}
}

// metricsAddrFrom reads --metrics-addr and checks that it is HOST:PORT
// (HOST may be empty: every interface; PORT 0: any free port).
func metricsAddrFrom(c *cli.Context, cmd string) (string, error) {
	addr := c.String("metrics-addr")
	if addr == "" {
		return "", nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return "", usagef(cmd, "--metrics-addr %q: want HOST:PORT, e.g. 127.0.0.1:9121 or :9121", addr)
	}
	return addr, nil
}

// A metricsServer serves the metrics of a run on /metrics, in the
// Prometheus exposition formats (text unless the scraper asks for
// another), from a registry of its own.
type metricsServer struct {
	srv  *http.Server
	addr string // the address listened on
}

// serveMetrics listens on addr and serves the collectors, with those of
// the Go runtime and of the process, until Close. logf says where, and
// reports the errors of the server and of the scrapes. With an empty
// addr it serves nothing and returns nil, whose methods do nothing.
func serveMetrics(cmd, addr string, logf func(format string, args ...any), cs ...prometheus.Collector) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("%s: metrics: %w", cmd, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: --metrics-addr %s: %w", cmd, addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      printlnFunc(logf),
		ErrorHandling: promhttp.ContinueOnError, // serve what could be gathered
		Timeout:       10 * time.Second,
	}))
	m := &metricsServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       time.Minute,
		},
		addr: ln.Addr().String(),
	}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("metrics: %v", err)
		}
	}()
	logf("metrics on http://%s/metrics", m.addr)
	return m, nil
}

// Addr returns the address the server listens on ("" for nil): the
// port chosen when --metrics-addr gave port 0.
func (m *metricsServer) Addr() string {
	if m == nil {
		return ""
	}
	return m.addr
}

// Close stops the server, giving the scrapes in flight a second to
// finish.
func (m *metricsServer) Close() {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if m.srv.Shutdown(ctx) != nil {
		_ = m.srv.Close()
	}
}

// printlnFunc makes a logf a promhttp.Logger.
type printlnFunc func(format string, args ...any)

func (f printlnFunc) Println(v ...any) {
	f("metrics: %s", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// A metricSpec describes a metric of a command.
type metricSpec struct {
	name  string
	typ   prometheus.ValueType // prometheus.CounterValue or GaugeValue
	label string               // the label its samples vary by, "" for none
	help  string
}

// A sample is a value of a metric at a scrape.
type sample struct {
	name  string
	label string // the value of the metric's label
	v     float64
}

// samples are the values a run's counters give at a scrape.
type samples []sample

func (s *samples) add(name string, v int64) { *s = append(*s, sample{name: name, v: float64(v)}) }

func (s *samples) addFloat(name string, v float64) { *s = append(*s, sample{name: name, v: v}) }

func (s *samples) addLabel(name, label string, v int64) {
	*s = append(*s, sample{name: name, label: label, v: float64(v)})
}

// addPhase adds name{phase="..."}: 1 for the phase cur, 0 for the others.
func (s *samples) addPhase(name string, phases []string, cur int) {
	for i, p := range phases {
		v := int64(0)
		if i == cur {
			v = 1
		}
		s.addLabel(name, p, v)
	}
}

// A runCollector is the prometheus.Collector of a run: its metrics are
// described by specs, and each scrape reads the run's counters once with
// read, in the goroutine of the scrape.
type runCollector struct {
	metrics map[string]runMetric // by name
	read    func() samples
}

type runMetric struct {
	spec metricSpec
	desc *prometheus.Desc
}

func newRunCollector(specs []metricSpec, read func() samples) *runCollector {
	c := &runCollector{metrics: map[string]runMetric{}, read: read}
	for _, s := range specs {
		var labels []string
		if s.label != "" {
			labels = []string{s.label}
		}
		c.metrics[s.name] = runMetric{s, prometheus.NewDesc(s.name, s.help, labels, nil)}
	}
	return c
}

// Describe sends the description of every metric.
func (c *runCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// errNoSpec is the error of a sample of a metric not described.
var errNoSpec = errors.New("metric not described")

// Collect sends the samples read now.
func (c *runCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.read() {
		rm, ok := c.metrics[s.name]
		if !ok {
			ch <- prometheus.NewInvalidMetric(prometheus.NewDesc(s.name, "", nil, nil), errNoSpec)
			continue
		}
		var labels []string
		if rm.spec.label != "" {
			labels = []string{s.label}
		}
		m, err := prometheus.NewConstMetric(rm.desc, rm.spec.typ, s.v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(rm.desc, err)
		}
		ch <- m
	}
}
