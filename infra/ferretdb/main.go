// Command ferretdb runs FerretDB v1 (a MongoDB wire-protocol server) on SQLite or PostgreSQL.
//
// It wraps the embeddable package because `go install .../cmd/ferretdb` panics at
// start-up (its generated version file is missing from the module download).
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // -pprof-listen: Go's CPU and heap profiles of the running server
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

// announce makes buildInfo tell which FerretDB and which backend answer: the embeddable
// package reports ferretdbVersion "unknown" and names no backend, and both matter to
// clients (query plans and speed differ per backend).
func announce(handler string) {
	info := version.Get()
	if build, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range build.Deps {
			if dep.Path == "github.com/FerretDB/FerretDB" {
				info.Version = dep.Version
			}
		}
	}
	info.BuildEnvironment.Set("backend", handler)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "storage backend: sqlite or postgresql")
	dataDir := flag.String("data-dir", "data", "directory for the SQLite databases (sqlite handler)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL connection URL (postgresql handler)")
	debug := flag.Bool("debug", false, "log at debug level")
	pprofListen := flag.String("pprof-listen", "", "serve Go's /debug/pprof on this address (off when empty)")
	flag.Parse()

	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	config := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  *handler,
	}
	switch *handler {
	case "sqlite":
		dir, err := filepath.Abs(*dataDir)
		if err != nil {
			logger.Error("bad data dir", "error", err)
			os.Exit(2)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			logger.Error("cannot create data dir", "error", err)
			os.Exit(2)
		}
		config.SQLiteURL = "file:" + dir + "/" // a directory URL: one SQLite file per database
	case "postgresql":
		if *pgURL == "" {
			logger.Error("the postgresql handler needs -postgresql-url")
			os.Exit(2)
		}
		config.PostgreSQLURL = *pgURL
	default:
		logger.Error("unknown handler (sqlite or postgresql)", "handler", *handler)
		os.Exit(2)
	}

	if *pprofListen != "" {
		go func() {
			// Where FerretDB's own CPU goes (docs/operations.md, "Profiling"): e.g.
			// go tool pprof -top http://<addr>/debug/pprof/profile?seconds=30
			if err := http.ListenAndServe(*pprofListen, nil); err != nil {
				logger.Error("pprof listener stopped", "error", err)
			}
		}()
	}

	announce(*handler)
	f, err := ferretdb.New(config)
	if err != nil {
		logger.Error("cannot start", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	logger.Warn("ferretdb listening", "addr", *listen, "handler", *handler)
	if err := f.Run(ctx); err != nil {
		logger.Error("stopped with error", "error", err)
		os.Exit(1)
	}
}
