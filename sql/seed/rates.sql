-- Seed list prices, USD per unit (tokens per 1M; characters per 1M;
-- duration per hour, or per minute; requests each), and the model aliases
-- that go with them.
--
-- Data, not schema: applied by `lava-migrate --seed` (scripts/lava-stack, so
-- the demo and the tests, always seed), again whenever this file changes.
-- Idempotent: a row already there (same provider, model, effective_from and
-- tier; same alias pattern) is left as it is (ON CONFLICT DO NOTHING), so
-- the file can only add prices; it never changes or removes one.
--
-- Every row is read on the provider's own pricing or model page, and its
-- note says which page and when:
--   [page as stored, dated YYYY-MM-DD]  a stored copy of the page that shows
--                                       its own date
--   [page as stored, read YYYY-MM-DD]   a stored copy without a date of its
--                                       own, read on that day
-- A price seen only in a third party's article, price list or transcription,
-- or remembered, is not seeded: such a model is booked unpriced (never at
-- zero) until the operator adds its row with add_rate(), and
-- reprice_unpriced() settles what was booked before. A row whose page shows
-- some of the prices the provider bills for the model (input and output but
-- not its cache prices, say) is not seeded either: a NULL price falls back
-- to another (docs/pricing.md), which would be a guess.
--
-- Prices change: a change is a new row with a later date, never an edit
-- (booked requests point at the row they used). How the list is made and
-- how to add to it: docs/pricing.md, "Seed prices".
--
-- Seeded: openai, anthropic, deepseek, novita, vercel. Not seeded (no
-- complete price read on the provider's own page yet): google, xai, mistral,
-- cohere, groq, together, fireworks, deepinfra, hyperbolic, cerebras,
-- sambanova, nebius, gmi, inference, baseten, elevenlabs, retell, kluster,
-- parasail, chutes, targon, pearch, moonshot, embercloud. Price them with add_rate(), or bill
-- them on the merchant's meter alone with set_meter_only_provider().
--
-- Rows are effective from the date the price was seen (or announced), so
-- requests of that day on are priced; older requests stay unpriced rather
-- than take a price that may not have applied to them.

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

---------------------------------------------------------------- OpenAI
-- developers.openai.com/api/docs/models/<id>: each model's page, "Text
-- tokens, per 1M tokens" (standard processing). The stored copies show no
-- date of their own. Both pages mark the model deprecated; the prices are
-- kept for the requests that still name it.
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5-nano', '2025-08-07', 0.05, 0.005, 0.40,
        '[page as stored, read 2026-12-07] developers.openai.com/api/docs/models/gpt-5-nano');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('openai', 'gpt-5.4-nano', '2026-05-04T00:00:00Z', 0.20, 0.02, 1.25,
        '[page as stored, read 2026-12-07] developers.openai.com/api/docs/models/gpt-5.4-nano');

------------------------------------------------------------- Anthropic
-- platform.claude.com/docs/en/about-claude/pricing, "Model pricing": base
-- input, 5-minute cache write, 1-hour cache write, cache hit, output. The
-- stored copy (newest model listed: Claude Fable 5.1) shows no date. Model
-- ids as the API names them; dated ids (claude-opus-4-5-20251101) fall back
-- to these. Opus 4.1 and Opus 4 are listed as retired on the Claude API.
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4-6', '2026-01-01T00:00:00Z', 5, 6.25, 10, 0.50, 25,
        '[page as stored, read 2026-12-07] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4-5', '2026-01-01T00:00:00Z', 5, 6.25, 10, 0.50, 25,
        '[page as stored, read 2026-12-07] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4-1', '2026-01-01T00:00:00Z', 15, 18.75, 30, 1.50, 75,
        '[page as stored, read 2026-12-07] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4', '2026-01-01T00:00:00Z', 15, 18.75, 30, 1.50, 75,
        '[page as stored, read 2026-12-07] platform.claude.com/docs/en/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-opus-4-7', '2026-05-01', 5, 6.25, 10, 0.50, 25,
        '[page as stored, read 2026-12-07] platform.claude.com/docs/en/about-claude/pricing');
-- platform.claude.com/docs/zh-CN/models/sonnet-5/overview, "Pricing": the
-- model id claude-sonnet-5 and its five prices (the page lists it as a
-- legacy model; seen, so priced, from the day it was read).
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-sonnet-5', '2026-12-07', 2, 2.50, 4, 0.20, 10,
        '[page as stored, read 2026-12-07] platform.claude.com/docs/zh-CN/models/sonnet-5/overview');
-- docs.anthropic.com/en/docs/about-claude/pricing, an older stored copy of
-- the same page (newest model listed: Claude Opus 4.1), for the models the
-- newer copy no longer lists. Its long-context row for Sonnet 4 (above 200K
-- input tokens: $6 in, $22.50 out) gives no cache prices, so it is not
-- seeded: such a request is priced at the base row.
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-sonnet-4', '2026-01-01T00:00:00Z', 3, 3.75, 6, 0.30, 15,
        '[page as stored, read 2026-12-07] docs.anthropic.com/en/docs/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-3-5-haiku', '2026-01-01T00:00:00Z', 0.80, 1, 1.60, 0.08, 4,
        '[page as stored, read 2026-12-07] docs.anthropic.com/en/docs/about-claude/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cache_write, cache_write_1h,
                        cached_input, output, note)
VALUES ('anthropic', 'claude-3-haiku', '2026-01-01T00:00:00Z', 0.25, 0.30, 0.50, 0.03, 1.25,
        '[page as stored, read 2026-12-07] docs.anthropic.com/en/docs/about-claude/pricing');
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('anthropic', 'claude-opus-4-0', 'claude-opus-4', 'API alias')
    ON CONFLICT DO NOTHING;
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('anthropic', 'claude-sonnet-4-0', 'claude-sonnet-4', 'API alias')
    ON CONFLICT DO NOTHING;
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('anthropic', 'claude-3-5-haiku-latest', 'claude-3-5-haiku', 'API alias')
    ON CONFLICT DO NOTHING;

-------------------------------------------------------------- DeepSeek
-- api-docs.deepseek.com/quick_start/pricing, "Pricing": cache hit (= cached
-- input), cache miss (= input), output, per 1M tokens. The stored copy
-- (model versions DeepSeek-V4-Flash-0731 and DeepSeek-V4-Pro-0813) shows no
-- date. It announces peak / off-peak billing from 2026-08-16 16:00 UTC
-- (off-peak at half the peak price) whose table the copy cuts off: requests
-- from then on are priced with these rows, which the operator should check
-- against the page (docs/pricing.md, "Seed prices").
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('deepseek', 'deepseek-v4-flash', '2026-05-01', 0.14, 0.0028, 0.28,
        '[page as stored, read 2026-12-07] api-docs.deepseek.com/quick_start/pricing');
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('deepseek', 'deepseek-v4-pro', '2026-05-01', 0.435, 0.003625, 0.87,
        '[page as stored, read 2026-12-07] api-docs.deepseek.com/quick_start/pricing');
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('deepseek', 'deepseek-chat', 'deepseek-v4-flash', 'deprecated alias')
    ON CONFLICT DO NOTHING;
INSERT INTO model_aliases (provider, pattern, model, note)
    VALUES ('deepseek', 'deepseek-reasoner', 'deepseek-v4-pro', 'deprecated alias')
    ON CONFLICT DO NOTHING;

---------------------------------------------------------------- Novita
-- novita.ai/models/model-detail/moonshotai-kimi-k2-instruct, "Serverless
-- API": input and output per 1M tokens, the model id as its API takes it.
INSERT INTO seed_rates (provider, model, effective_from, input, output, note)
VALUES ('novita', 'moonshotai/kimi-k2-instruct', '2026-12-07', 0.57, 2.30,
        '[page as stored, read 2026-12-07] novita.ai/models/model-detail/moonshotai-kimi-k2-instruct');

---------------------------------------------------------------- Vercel
-- vercel.com/ai-gateway/models/gpt-4.1-mini/providers: AI Gateway's own
-- price of the model through OpenAI (input, output, cache read).
INSERT INTO seed_rates (provider, model, effective_from, input, cached_input, output, note)
VALUES ('vercel', 'openai/gpt-4.1-mini', '2026-12-07', 0.40, 0.10, 1.60,
        '[page as stored, read 2026-12-07] vercel.com/ai-gateway/models/gpt-4.1-mini/providers');

---------------------------------------------------------- server-side tools
-- Tool calls the providers bill per call (docs/pricing.md), seen
-- 2026-12-07. They are new rows of that date repeating the token prices of
-- the row then in force (each long-context tier too), so that requests
-- before it stay as they were booked; a seed row dated that day or later
-- gets the tool prices itself. A model without them books a tool call
-- unpriced, never free.
--
-- Anthropic platform.claude.com/docs/en/agents-and-tools/tool-use/
--   web-search-tool and the pricing page (read 2026-12-07): web search $10
--   per 1,000 searches (usage.server_tool_use.web_search_requests), web fetch
--   no charge beyond the tokens of the fetched content.
-- OpenAI's and Google's per-call prices were seen only in third parties'
-- posts quoting their pages: not seeded, so their tool calls are unpriced.
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
     '[page as stored, read 2026-12-07] platform.claude.com/docs/en/agents-and-tools/tool-use/web-search-tool: web search $10 per 1,000 searches, web fetch free');

-- seed rows dated on or after the tools' prices carry them themselves
UPDATE seed_rates r
   SET per_web_search = t.per_web_search, per_web_fetch = t.per_web_fetch,
       per_grounded_prompt = t.per_grounded_prompt, note = r.note || '; ' || t.note
  FROM seed_tools t
 WHERE r.provider = t.provider AND r.model LIKE t.model_like
   AND r.effective_from >= t.effective_from;

-- the rows in force at the tools' date and older than it, again from that
-- date with them
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
 WHERE r.effective_from < t.effective_from
   AND r.effective_from = (SELECT max(r2.effective_from) FROM seed_rates r2
                            WHERE r2.provider = r.provider AND r2.model = r.model
                              AND r2.effective_from <= t.effective_from)
 ORDER BY r.n;

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
