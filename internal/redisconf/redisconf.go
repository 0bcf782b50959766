// Package redisconf turns REDIS_URL into the options go-redis and asynq need.
package redisconf

import (
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// DefaultURL is used when REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Parse reads a redis:// or rediss:// URL with optional user, password and DB.
// The error never repeats the URL: it may hold a password.
func Parse(url string) (*redis.Options, asynq.RedisClientOpt, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, asynq.RedisClientOpt{}, fmt.Errorf("REDIS_URL is not a redis:// or rediss:// URL")
	}
	return opt, AsynqOpt(opt), nil
}

// AsynqOpt converts go-redis options to asynq's.
func AsynqOpt(opt *redis.Options) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{
		Network: opt.Network, Addr: opt.Addr, Username: opt.Username, Password: opt.Password,
		DB: opt.DB, TLSConfig: opt.TLSConfig, PoolSize: opt.PoolSize,
	}
}
