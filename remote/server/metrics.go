package server

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
)

// Metrics are the server's Prometheus metrics. A nil *Metrics counts
// nothing, so the server needs no checks.
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	leaseWaitS   prometheus.Histogram
	leases       prometheus.Counter
	expired      prometheus.Counter
	samples      prometheus.Counter
	saturations  prometheus.Counter
	boardSeconds prometheus.Gauge
	temperature  prometheus.Gauge
}

// NewMetrics registers the server's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spu_requests_total",
			Help: "Requests by gRPC method and status code."}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spu_request_duration_seconds",
			Help: "Request duration by method.", Buckets: prometheus.ExponentialBuckets(1e-4, 4, 10)}, []string{"method"}),
		leaseWaitS: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "spu_lease_wait_seconds",
			Help: "Time from Acquire to the lease.", Buckets: prometheus.ExponentialBuckets(1e-3, 4, 10)}),
		leases:  prometheus.NewCounter(prometheus.CounterOpts{Name: "spu_leases_total", Help: "Leases granted."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{Name: "spu_leases_expired_total", Help: "Leases that expired unrenewed."}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{Name: "spu_samples_total",
			Help: "Samples (all cells at one time) taken for clients."}),
		saturations: prometheus.NewCounter(prometheus.CounterOpts{Name: "spu_saturated_calls_total",
			Help: "Sample calls in which some reading saturated."}),
		boardSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "spu_board_time_seconds",
			Help: "The board's own account of board time, when it keeps one (last read)."}),
	}
	m.temperature = prometheus.NewGauge(prometheus.GaugeOpts{Name: "spu_board_temperature_celsius",
		Help: "The board's temperature where it reports one (last read, at a clock read or a Sample)."})
	reg.MustRegister(m.requests, m.duration, m.leaseWaitS, m.leases, m.expired, m.samples, m.saturations,
		m.boardSeconds, m.temperature)
	return m
}

func (m *Metrics) request(method string, code codes.Code, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(method, code.String()).Inc()
	m.duration.WithLabelValues(method).Observe(d.Seconds())
}

func (m *Metrics) leaseWait(d time.Duration) {
	if m != nil {
		m.leaseWaitS.Observe(d.Seconds())
	}
}

func (m *Metrics) leaseGranted() {
	if m != nil {
		m.leases.Inc()
	}
}

func (m *Metrics) leaseExpired() {
	if m != nil {
		m.expired.Inc()
	}
}

func (m *Metrics) sampled(n int, err error) {
	if m == nil {
		return
	}
	m.samples.Add(float64(n))
	if errors.Is(err, hal.ErrSaturated) {
		m.saturations.Inc()
	}
}

// observe reads b's board time and temperature where it keeps them.
func (m *Metrics) observe(b hal.Board) {
	if m == nil {
		return
	}
	if d, ok := hal.BoardTime(b); ok {
		m.boardSeconds.Set(d.Seconds())
	}
	if t, ok := calibration.Temperature(b); ok {
		m.temperature.Set(t)
	}
}
