package fakevendor

import (
	"fmt"

	"github.com/dialq/dialq/internal/envconf"
)

// ConfigFromEnv reads the credentials each vendor expects from the same variables
// the worker reads (NXCLOUD_*, YCCALL_*, SPEECH_*, FLASHAI_*), so that one
// environment configures both sides.
func ConfigFromEnv(getenv envconf.Getenv) (Config, error) {
	var cfg Config
	var err error
	if cfg.NXCloud, err = nxcloudConfigFromEnv(getenv); err != nil {
		return Config{}, fmt.Errorf("nxcloud: %w", err)
	}
	if cfg.Yccall, err = yccallConfigFromEnv(getenv); err != nil {
		return Config{}, fmt.Errorf("yccall: %w", err)
	}
	if cfg.Speech, err = speechConfigFromEnv(getenv); err != nil {
		return Config{}, fmt.Errorf("speech: %w", err)
	}
	if cfg.FlashAI, err = flashaiConfigFromEnv(getenv); err != nil {
		return Config{}, fmt.Errorf("flashai: %w", err)
	}
	return cfg, nil
}
