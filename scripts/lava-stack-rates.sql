-- The prices of the test and demo stack (scripts/lava-stack), for the models
-- the tests, the bundled mock provider (scripts/mock-provider answers with
-- gpt-4o-mini unless told otherwise) and bench/run name. NOT list prices:
-- these are the numbers the stack's tests were written against, kept fixed so
-- that a change of the seed list (sql/seed/rates.sql) never moves a test.
--
-- scripts/lava-stack applies this file after `lava-migrate --seed`, in one
-- transaction; lava-migrate never applies it, so no production database has
-- these rows. A model the seed list prices keeps the seed's rows only (its
-- rows here are dropped before the insert), so the stack prices every seeded
-- model exactly as production does. Every row inserted here is noted
-- "stack fixture".
--
-- The rows are the ones the seed list held before it was restricted to
-- prices read on the providers' own pages (docs/pricing.md, "Seed prices").
-- Add a row here when a test needs a model the seed does not price; never
-- copy one into the seed.

-- The rows in add_rate()'s units; converted and inserted at the end of the
-- file, in file order (rate ids follow it).
CREATE TEMP TABLE seed_rates (
    n                  serial,
    provider           text NOT NULL,
    model              text NOT NULL,
    effective_from     timestamptz NOT NULL,
    prompt_tokens_over bigint NOT NULL DEFAULT 0,
    input              numeric,     -- USD per 1M tokens, as add_rate()
    cached_input       numeric,
    cache_write        numeric,
    cache_write_1h     numeric,
    output             numeric,
    reasoning          numeric,
    audio_input        numeric,
    audio_output       numeric,
    per_1m_characters  numeric,     -- USD per 1M characters
    per_hour           numeric,     -- USD per hour of duration
    per_minute         numeric,     -- USD per minute of duration
    per_request        numeric,     -- USD each
    per_image          numeric,
    per_web_search     numeric,     -- USD per server-side tool call
    per_web_fetch      numeric,
    per_grounded_prompt numeric,
    note               text NOT NULL
) ON COMMIT DROP;

------------------------------------------------------ OpenAI, April 2025
-- OpenAI API pricing page, https://openai.com/api/pricing (standard tier),
-- prices as published 2025-04 (after the GPT-4.1 launch). Check them
-- against the page before relying on them. effective_from 2025-01-01:
-- requests older than that have no rate and are booked as unpriced, never
-- at zero. gpt-4o-mini is also the model the bundled mock provider answers
-- with.

INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-4o', '2025-01-01T00:00:00Z', 2.50, 1.25, 10.00,
        'openai.com/api/pricing, 2025-04');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-4o-mini', '2025-01-01T00:00:00Z', 0.15, 0.075, 0.60,
        'openai.com/api/pricing, 2025-04');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-4.1', '2025-01-01T00:00:00Z', 2.00, 0.50, 8.00,
        'openai.com/api/pricing, 2025-04');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-4.1-mini', '2025-01-01T00:00:00Z', 0.40, 0.10, 1.60,
        'openai.com/api/pricing, 2025-04');

---------------------------------------------------------------- OpenAI
-- [page] developers.openai.com/docs/models (gpt-5.5 $5/$30, gpt-5.4
-- $2.50/$15, gpt-5.4-mini $0.75/$4.50); cached input and gpt-5.4-nano
-- [transcribed 2026-05-04] api-evangelist/openai plans file, from
-- developers.openai.com/api/docs/pricing. Standard tier, short context.
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5.5', '2026-05-04T00:00:00Z', 5.00, 0.50, 30.00,
        '[page]+[transcribed 2026-05-04] developers.openai.com/api/docs/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5.4', '2026-05-04T00:00:00Z', 2.50, 0.25, 15.00,
        '[page]+[transcribed 2026-05-04] developers.openai.com/api/docs/pricing');
-- long context: "2x on input beyond 272K, 1.5x on output" [secondary]
-- (hivebook.wiki, 2026-04; tokenmix.ai says standard rates apply under 270K)
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output,
                        prompt_tokens_over, note)
VALUES ('openai', 'gpt-5.4', '2026-05-04T00:00:00Z', 5.00, 0.50, 22.50, 272000,
        '[secondary] long-context surcharge, hivebook.wiki 2026-04');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5.4-mini', '2026-05-04T00:00:00Z', 0.75, 0.075, 4.50,
        '[page]+[transcribed 2026-05-04] developers.openai.com/api/docs/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5.4-nano', '2026-05-04T00:00:00Z', 0.20, 0.02, 1.25,
        '[transcribed 2026-05-04] developers.openai.com/api/docs/pricing');
-- [page] developers.openai.com/api/docs/models/gpt-5-nano and the GPT-5
-- row of its gpt-5-codex page
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5', '2025-08-07', 1.25, 0.125, 10.00,
        '[page] developers.openai.com/api/docs/models (gpt-5-codex comparison)');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5-nano', '2025-08-07', 0.05, 0.005, 0.40,
        '[page] developers.openai.com/api/docs/models/gpt-5-nano');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5-mini', '2025-08-07', 0.25, 0.025, 2.00,
        '[secondary] nicolalazzari.ai 2026; matches [memory]');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'o3', '2025-06-10', 2.00, 0.50, 8.00,
        '[memory] openai.com/api/pricing after the June 2025 o3 price cut');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'o4-mini', '2025-04-16', 1.10, 0.275, 4.40,
        '[memory] openai.com/api/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, note)
VALUES ('openai', 'text-embedding-3-small', '2024-01-25', 0.02,
        '[secondary] chatgptpricing pages.dev; matches [memory]');
INSERT INTO seed_rates (provider, model, effective_from, input, note)
VALUES ('openai', 'text-embedding-3-large', '2024-01-25', 0.13,
        '[secondary] chatgptpricing pages.dev; matches [memory]');
-- gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini: at the top of this file

------------------------------------------------------------- Anthropic
-- [page] platform.claude.com/docs/about-claude/pricing (stored copy
-- listing Opus 4.6 as newest): base input, 5-minute cache write,
-- 1-hour cache write, cache hit, output. Model ids as the API names
-- them; dated ids (claude-sonnet-4-5-20250929) fall back to these.
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4-6', '2026-01-01T00:00:00Z', 5, 6.25, 10, 0.50, 25,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4-5', '2026-01-01T00:00:00Z', 5, 6.25, 10, 0.50, 25,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4-1', '2026-01-01T00:00:00Z', 15, 18.75, 30, 1.50, 75,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4', '2026-01-01T00:00:00Z', 15, 18.75, 30, 1.50, 75,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-sonnet-4-6', '2026-01-01T00:00:00Z', 3, 3.75, 6, 0.30, 15,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-sonnet-4-5', '2026-01-01T00:00:00Z', 3, 3.75, 6, 0.30, 15,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-sonnet-4', '2026-01-01T00:00:00Z', 3, 3.75, 6, 0.30, 15,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
-- Sonnet 4 / 4.5 above 200K input tokens: $6 in, $22.50 out [page]
-- docs.anthropic.com pricing (long context); the cache prices are the
-- same multipliers of $6 (1.25x, 2x, 0.1x), derived, not read.
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, prompt_tokens_over, note)
VALUES ('anthropic', 'claude-sonnet-4-5', '2026-01-01T00:00:00Z', 6, 7.50, 12, 0.60, 22.50, 200000,
        '[page] docs.anthropic.com long context pricing; cache prices derived');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, prompt_tokens_over, note)
VALUES ('anthropic', 'claude-sonnet-4', '2026-01-01T00:00:00Z', 6, 7.50, 12, 0.60, 22.50, 200000,
        '[page] docs.anthropic.com long context pricing; cache prices derived');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-haiku-4-5', '2026-01-01T00:00:00Z', 1, 1.25, 2, 0.10, 5,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-3-5-haiku', '2026-01-01T00:00:00Z', 0.80, 1, 1.60, 0.08, 4,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-3-haiku', '2026-01-01T00:00:00Z', 0.25, 0.30, 0.50, 0.03, 1.25,
        '[page] platform.claude.com/docs/en/about-claude/pricing');
-- Opus 4.7 [transcribed 2026-05-22] api-evangelist/anthropic plans file
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4-7', '2026-05-01', 5, 6.25, 10, 0.50, 25,
        '[transcribed 2026-05-22] platform.claude.com pricing via API Commons');
-- Opus 5 [page] platform.claude.com pricing, newer stored copy; the
-- model id follows the API's naming and is not checked
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-5', '2026-11-01T00:00:00Z', 5, 6.25, 10, 0.50, 25,
        '[page] platform.claude.com/docs/en/about-claude/pricing; id assumed');
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('anthropic', 'claude-opus-4-0', 'claude-opus-4', 'API alias')
    ON CONFLICT DO NOTHING;
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('anthropic', 'claude-sonnet-4-0', 'claude-sonnet-4', 'API alias')
    ON CONFLICT DO NOTHING;
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('anthropic', 'claude-3-5-haiku-latest', 'claude-3-5-haiku', 'API alias')
    ON CONFLICT DO NOTHING;

---------------------------------------------------------------- Google
-- [transcribed 2026-09-20] api-evangelist/gemini plans file, "every
-- price_text found verbatim" on ai.google.dev/gemini-api/docs/pricing.
-- Thinking tokens cost the output price (reasoning left NULL).
-- Gemini 3.8 Flash has a dated change: $0.75 / $3.75 through
-- 2026-12-31, $1.50 / $7.50 from 2027-01-01 (two rows).
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('google', 'gemini-3.8-flash', '2026-09-20', 0.75, 3.75,
        '[transcribed 2026-09-20] ai.google.dev/gemini-api/docs/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('google', 'gemini-3.8-flash', '2027-01-01', 1.50, 7.50,
        '[transcribed 2026-09-20] ai.google.dev: price from 2027-01-01');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('google', 'gemini-3.5-flash', '2026-09-20', 1.50, 9.00,
        '[transcribed 2026-09-20] ai.google.dev/gemini-api/docs/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('google', 'gemini-3.1-pro-preview', '2026-09-20', 2.00, 12.00,
        '[transcribed 2026-09-20] ai.google.dev, prompts <= 200k tokens');
INSERT INTO seed_rates (provider, model, effective_from, input, output, prompt_tokens_over,
                        note)
VALUES ('google', 'gemini-3.1-pro-preview', '2026-09-20', 4.00, 18.00, 200000,
        '[transcribed 2026-09-20] ai.google.dev, prompts > 200k tokens');
-- 2.5 Pro input [transcribed]; output and cache reads [memory]
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('google', 'gemini-2.5-pro', '2025-06-17', 1.25, 0.125, 10.00,
        '[transcribed 2026-09-20] input; output and cached [memory]');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output,
                        prompt_tokens_over, note)
VALUES ('google', 'gemini-2.5-pro', '2025-06-17', 2.50, 0.25, 15.00, 200000,
        '[transcribed 2026-09-20] input > 200k; output and cached [memory]');
-- 2.5 Flash input $0.30 (text/image/video) and $1.00 audio [transcribed];
-- output and cache reads [memory]
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, audio_input,
                        output, note)
VALUES ('google', 'gemini-2.5-flash', '2025-06-17', 0.30, 0.03, 1.00, 2.50,
        '[transcribed 2026-09-20] input, audio; output and cached [memory]');
-- 2.5 Flash-Lite output $0.40 [transcribed]; input and cache [memory]
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('google', 'gemini-2.5-flash-lite', '2025-07-22', 0.10, 0.01, 0.40,
        '[transcribed 2026-09-20] output; input and cached [memory]');

------------------------------------------------------------------- xAI
-- [page] docs.x.ai/developers/grok-4-7: $2.00 in, $6.00 out
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('xai', 'grok-4.7', '2026-11-01T00:00:00Z', 2.00, 6.00,
        '[page] docs.x.ai/developers/grok-4-7');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('xai', 'grok-4-1-fast', '2025-11-19', 0.20, 0.05, 0.50,
        '[secondary] getmaxim.ai, wavespeed.ai; cached [memory]');
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('xai', 'grok-4-1-fast-*', 'grok-4-1-fast', 'reasoning and non-reasoning')
    ON CONFLICT DO NOTHING;
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('xai', 'grok-4', '2025-07-09', 3.00, 0.75, 15.00,
        '[secondary] skills.sh xai-models; cached [memory]');
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('xai', 'grok-4-0709', 'grok-4', 'API id')
    ON CONFLICT DO NOTHING;

-------------------------------------------------------------- DeepSeek
-- [transcribed 2026-05-05] api-evangelist/deepseek plans file (a bulk
-- sweep, not harvested from the page: treat as [secondary]) from
-- api-docs.deepseek.com/quick_start/pricing. Cache hit = cached input.
-- V4-Pro carried a 75 % promotion through 2026-05-31; the price after
-- it is the promotion divided by 0.25, derived, not read.
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('deepseek', 'deepseek-v4-flash', '2026-05-01', 0.14, 0.0028, 0.28,
        '[secondary] API Commons 2026-05-05, api-docs.deepseek.com');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('deepseek', 'deepseek-v4-pro', '2026-05-01', 0.435, 0.003625, 0.87,
        '[secondary] promotional price through 2026-05-31');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('deepseek', 'deepseek-v4-pro', '2026-06-01', 1.74, 0.0145, 3.48,
        '[secondary] after the promotion: derived (promotion / 0.25)');
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('deepseek', 'deepseek-chat', 'deepseek-v4-flash', 'deprecated alias')
    ON CONFLICT DO NOTHING;
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('deepseek', 'deepseek-reasoner', 'deepseek-v4-pro', 'deprecated alias')
    ON CONFLICT DO NOTHING;

--------------------------------------------------------------- Mistral
-- [memory] mistral.ai/pricing (the stored copy of the page has no
-- numbers); responses name dated models: mistral-large-2411 etc.
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('mistral', 'mistral-large-latest', '2025-01-01', 2.00, 6.00,
        '[memory] mistral.ai/pricing, Mistral Large 24.11');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('mistral', 'mistral-medium-latest', '2025-05-07', 0.40, 2.00,
        '[memory] mistral.ai/pricing, Mistral Medium 3');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('mistral', 'mistral-small-latest', '2025-03-17', 0.10, 0.30,
        '[memory] mistral.ai/pricing, Mistral Small 3.1; deploybase.ai agrees');
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('mistral', 'mistral-large-*', 'mistral-large-latest', 'dated ids')
    ON CONFLICT DO NOTHING;
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('mistral', 'mistral-medium-*', 'mistral-medium-latest', 'dated ids')
    ON CONFLICT DO NOTHING;
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('mistral', 'mistral-small-*', 'mistral-small-latest', 'dated ids')
    ON CONFLICT DO NOTHING;

---------------------------------------------------------------- Cohere
-- [transcribed 2026-05-04] api-evangelist/cohere plans file (bulk
-- sweep: [secondary]) from cohere.com/pricing; Command A [memory]
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('cohere', 'command-a-03-2025', '2025-03-13', 2.50, 10.00,
        '[memory] cohere.com/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('cohere', 'command-r-plus-08-2024', '2024-08-30', 2.50, 10.00,
        '[secondary] API Commons 2026-05-04, cohere.com/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('cohere', 'command-r-08-2024', '2024-08-30', 0.15, 0.60,
        '[memory] cohere.com/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('cohere', 'command-r7b-12-2024', '2024-12-13', 0.0375, 0.15,
        '[memory] cohere.com/pricing');

------------------------------------------------- hosts of open models
-- [memory] unless marked: each host's pricing page as remembered.
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('groq', 'llama-3.3-70b-versatile', '2025-01-01', 0.59, 0.79,
        '[secondary] tier_maker.py (huggingface) 2025; matches [memory] groq.com/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('groq', 'llama-3.1-8b-instant', '2025-01-01', 0.05, 0.08,
        '[memory] groq.com/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('groq', 'openai/gpt-oss-120b', '2025-08-05', 0.15, 0.75,
        '[memory] groq.com/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('groq', 'openai/gpt-oss-20b', '2025-08-05', 0.10, 0.50,
        '[memory] groq.com/pricing');
INSERT INTO seed_rates (provider, model, effective_from, per_hour, note)
VALUES ('groq', 'whisper-large-v3', '2025-01-01', 0.111,
        '[memory] groq.com/pricing, $0.111 per hour of audio');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('together', 'meta-llama/Llama-3.3-70B-Instruct-Turbo', '2025-01-01', 0.88, 0.88,
        '[memory] together.ai/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('together', 'deepseek-ai/DeepSeek-V3', '2025-01-01', 1.25, 1.25,
        '[memory] together.ai/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('fireworks', 'accounts/fireworks/models/llama-v3p3-70b-instruct', '2025-01-01', 0.90, 0.90,
        '[memory] fireworks.ai/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('deepinfra', 'meta-llama/Llama-3.3-70B-Instruct', '2025-01-01', 0.23, 0.40,
        '[memory] deepinfra.com/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('hyperbolic', 'meta-llama/Llama-3.3-70B-Instruct', '2025-01-01', 0.40, 0.40,
        '[memory] hyperbolic.xyz pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('cerebras', 'llama-3.3-70b', '2025-01-01', 0.85, 1.20,
        '[memory] cerebras.ai/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('cerebras', 'llama3.1-8b', '2025-01-01', 0.10, 0.10,
        '[memory] cerebras.ai/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('sambanova', 'Meta-Llama-3.3-70B-Instruct', '2025-01-01', 0.60, 1.20,
        '[memory] cloud.sambanova.ai pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('nebius', 'meta-llama/Llama-3.3-70B-Instruct', '2025-01-01', 0.13, 0.40,
        '[memory] studio.nebius.com pricing');

---------------------------------------------------------------- Vercel
-- AI Gateway bills the provider's list price without markup [memory];
-- these rows copy the provider rows above for its provider/model ids.
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('vercel', 'openai/gpt-5.4', '2026-05-04T00:00:00Z', 2.50, 0.25, 15.00,
        '[memory] no markup: OpenAI list price');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('vercel', 'openai/gpt-5.4-mini', '2026-05-04T00:00:00Z', 0.75, 0.075, 4.50,
        '[memory] no markup: OpenAI list price');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('vercel', 'anthropic/claude-sonnet-4.6', '2026-01-01T00:00:00Z', 3, 3.75, 6, 0.30, 15,
        '[memory] no markup: Anthropic list price');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('vercel', 'google/gemini-2.5-flash', '2025-06-17', 0.30, 0.03, 2.50,
        '[memory] no markup: Google list price');

---------------------------------------------------------- voice, audio
-- ElevenLabs: text to speech per character, speech to text per hour
-- [memory] elevenlabs.io/pricing/api (the stored copy shows the credit
-- plans only).
INSERT INTO seed_rates (provider, model, effective_from, per_1m_characters, note)
VALUES ('elevenlabs', 'eleven_multilingual_v2', '2025-01-01', 100,
        '[memory] $0.10 per 1K characters');
INSERT INTO seed_rates (provider, model, effective_from, per_1m_characters, note)
VALUES ('elevenlabs', 'eleven_flash_v2_5', '2025-01-01', 50,
        '[memory] $0.05 per 1K characters');
INSERT INTO seed_rates (provider, model, effective_from, per_1m_characters, note)
VALUES ('elevenlabs', 'eleven_turbo_v2_5', '2025-01-01', 50,
        '[memory] $0.05 per 1K characters');
INSERT INTO seed_rates (provider, model, effective_from, per_hour, note)
VALUES ('elevenlabs', 'scribe_v1', '2025-03-01', 0.40,
        '[memory] $0.40 per hour of audio');
-- Retell: voice calls per minute of call, any model [memory]
INSERT INTO seed_rates (provider, model, effective_from, per_minute, note)
VALUES ('retell', '*', '2025-01-01', 0.07,
        '[memory] retellai.com/pricing, voice engine from $0.07 per minute');

---------------------------------------------------------- server-side tools
-- Tool calls the providers bill per call (docs/pricing.md), seen
-- 2026-12-07. They are new rows of that date repeating the token prices of
-- the row then in force (each long-context tier too), so that requests
-- before it stay as they were booked; a seed row dated later (a price
-- change announced ahead) gets the tool prices itself. A model without
-- them books a tool call unpriced, never free.
--
-- Anthropic [page 2026-12-07] platform.claude.com/docs/en/agents-and-tools/
--   tool-use/web-search-tool and the pricing page: web search $10 per
--   1,000 searches (usage.server_tool_use.web_search_requests), web fetch
--   no charge beyond the tokens of the fetched content.
-- OpenAI [secondary 2026-12-07] community.openai.com/t/search-web-using-
--   openai-api/1363698 quoting platform.openai.com/docs/pricing (built-in
--   tools): the web_search tool $10 per 1,000 calls, all models, search
--   content tokens at the model's rates (reported in usage). The preview
--   tool ($25 per 1,000 on non-reasoning models) is not served with the
--   managed key (docs/providers.md), so it needs no price here.
-- Google [secondary 2026-12-07] discuss.ai.google.dev threads quoting
--   ai.google.dev/gemini-api/docs/pricing: Grounding with Google Search on
--   Gemini 2.5 $35 per 1,000 grounded prompts (its queries free), on
--   Gemini 3 $14 per 1,000 search queries (a grounded prompt itself free).
--   The free daily/monthly allowances are the operator's, not modelled.
CREATE TEMP TABLE seed_tools (
    provider            text NOT NULL,
    model_like          text NOT NULL,      -- LIKE pattern of seed_rates.model
    effective_from      timestamptz NOT NULL,
    per_web_search      numeric,
    per_web_fetch       numeric,
    per_grounded_prompt numeric,
    note                text NOT NULL
) ON COMMIT DROP;
INSERT INTO seed_tools VALUES
    ('anthropic', 'claude-%', '2026-12-07', 0.01, 0, NULL,
     '[page 2026-12-07] web search $10 per 1,000 searches, web fetch free'),
    ('openai', 'gpt-4%', '2026-12-07', 0.01, NULL, NULL,
     '[secondary 2026-12-07] web_search tool $10 per 1,000 calls'),
    ('openai', 'gpt-5%', '2026-12-07', 0.01, NULL, NULL,
     '[secondary 2026-12-07] web_search tool $10 per 1,000 calls'),
    ('openai', 'o3%', '2026-12-07', 0.01, NULL, NULL,
     '[secondary 2026-12-07] web_search tool $10 per 1,000 calls'),
    ('openai', 'o4%', '2026-12-07', 0.01, NULL, NULL,
     '[secondary 2026-12-07] web_search tool $10 per 1,000 calls'),
    ('google', 'gemini-2.5-%', '2026-12-07', 0, NULL, 0.035,
     '[secondary 2026-12-07] grounding $35 per 1,000 grounded prompts'),
    ('google', 'gemini-3%', '2026-12-07', 0.014, NULL, 0,
     '[secondary 2026-12-07] grounding $14 per 1,000 search queries');

-- seed rows dated after the tools' prices carry them themselves
UPDATE seed_rates r
   SET per_web_search = t.per_web_search, per_web_fetch = t.per_web_fetch,
       per_grounded_prompt = t.per_grounded_prompt, note = r.note || '; ' || t.note
  FROM seed_tools t
 WHERE r.provider = t.provider AND r.model LIKE t.model_like
   AND r.effective_from > t.effective_from;

-- the rows in force at the tools' date, again from that date with them
INSERT INTO seed_rates (provider, model, effective_from, prompt_tokens_over, input,
                        cached_input, cache_write, cache_write_1h, output, reasoning,
                        audio_input, audio_output, per_1m_characters, per_hour, per_minute,
                        per_request, per_image, per_web_search, per_web_fetch,
                        per_grounded_prompt, note)
SELECT r.provider, r.model, t.effective_from, r.prompt_tokens_over, r.input,
       r.cached_input, r.cache_write, r.cache_write_1h, r.output, r.reasoning,
       r.audio_input, r.audio_output, r.per_1m_characters, r.per_hour, r.per_minute,
       r.per_request, r.per_image, t.per_web_search, t.per_web_fetch,
       t.per_grounded_prompt, r.note || '; ' || t.note
  FROM seed_rates r
  JOIN seed_tools t ON r.provider = t.provider AND r.model LIKE t.model_like
 WHERE r.effective_from = (SELECT max(r2.effective_from) FROM seed_rates r2
                            WHERE r2.provider = r.provider AND r2.model = r.model
                              AND r2.effective_from <= t.effective_from)
 ORDER BY r.n;

-- ---------------------------------------------------------------------------
-- What the seed list prices stays the seed's; the rest is marked a fixture.

DELETE FROM seed_rates s
 WHERE EXISTS (SELECT 1 FROM provider_rates r
                WHERE r.provider = s.provider AND r.model = s.model);
UPDATE seed_rates SET note = 'stack fixture (scripts/lava-stack), not a list price';

-- ---------------------------------------------------------------------------
-- Into the ledger: a provider account for each provider (in order of first
-- appearance, as add_rate() would create them), then the rows, as add_rate()
-- stores them (usd_to_nusd refuses a price that is not a whole number of
-- nano-USD; a duration price per minute is 60 of it per hour).

INSERT INTO accounts (key, kind, provider)
SELECT 'provider:' || provider, 'provider', provider
  FROM seed_rates
 GROUP BY provider
 ORDER BY min(n)
ON CONFLICT (key) DO NOTHING;

INSERT INTO provider_rates (provider, model, effective_from, prompt_tokens_over,
    input_nusd_per_1m, cached_input_nusd_per_1m, cache_write_nusd_per_1m,
    cache_write_1h_nusd_per_1m, output_nusd_per_1m, reasoning_nusd_per_1m,
    audio_input_nusd_per_1m, audio_output_nusd_per_1m, characters_nusd_per_1m,
    duration_nusd_per_hour, request_nusd, image_nusd, web_search_nusd, web_fetch_nusd,
    grounded_prompt_nusd, note)
SELECT provider, model, effective_from, prompt_tokens_over,
       usd_to_nusd(input), usd_to_nusd(cached_input), usd_to_nusd(cache_write),
       usd_to_nusd(cache_write_1h), usd_to_nusd(output), usd_to_nusd(reasoning),
       usd_to_nusd(audio_input), usd_to_nusd(audio_output), usd_to_nusd(per_1m_characters),
       usd_to_nusd(coalesce(per_hour, per_minute * 60)), usd_to_nusd(per_request),
       usd_to_nusd(per_image), usd_to_nusd(per_web_search), usd_to_nusd(per_web_fetch),
       usd_to_nusd(per_grounded_prompt), note
  FROM seed_rates
 ORDER BY n
ON CONFLICT (provider, model, effective_from, prompt_tokens_over) DO NOTHING;

DROP TABLE seed_tools;
DROP TABLE seed_rates;
