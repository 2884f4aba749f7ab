-- Seed list prices of the main models of the seed providers, USD per unit
-- (tokens per 1M; characters per 1M; duration per hour; requests each).
--
-- Every row says where its numbers come from and how sure they are:
--   [page YYYY-MM-DD]    read from a stored copy of the provider's own
--                        pricing or model page (the copy's date, or the date
--                        it was read when the copy has none)
--   [transcribed DATE]   a third party's dated transcription of the
--                        provider's page (API Commons plans files, named)
--   [secondary]          a third-party article or price list, not the
--                        provider's page
--   [memory]             from memory of the provider's page, NOT checked
-- Check [secondary] and [memory] rows before billing with them. Prices
-- change: a change is a new add_rate() row with a later date, never an
-- edit (booked requests point at the row they used). A model without a
-- row is booked unpriced, never at zero, and settled by reprice_unpriced()
-- once its row exists.
--
-- Not seeded (no price we could stand behind): gmi, inference, baseten,
-- kluster, parasail, chutes, targon, pearch, novita. Add them with
-- add_rate(), or bill them on the merchant's meter alone with
-- set_meter_only_provider().
--
-- Rows effective from the date the price was seen (or announced), so
-- requests of that day on are priced; older requests stay unpriced rather
-- than take a price that may not have applied to them.

DO $$
DECLARE
    d_oa  constant timestamptz := '2026-05-04T00:00:00Z';   -- OpenAI API Commons transcription
    d_an  constant timestamptz := '2026-01-01T00:00:00Z';   -- Anthropic pricing page copy
    d_now constant timestamptz := '2026-11-01T00:00:00Z';   -- prices seen November 2026
BEGIN
    ---------------------------------------------------------------- OpenAI
    -- [page] developers.openai.com/docs/models (gpt-5.5 $5/$30, gpt-5.4
    -- $2.50/$15, gpt-5.4-mini $0.75/$4.50); cached input and gpt-5.4-nano
    -- [transcribed 2026-05-04] api-evangelist/openai plans file, from
    -- developers.openai.com/api/docs/pricing. Standard tier, short context.
    PERFORM add_rate('openai', 'gpt-5.5', d_oa, input => 5.00, cached_input => 0.50, output => 30.00,
                     note => '[page]+[transcribed 2026-05-04] developers.openai.com/api/docs/pricing');
    PERFORM add_rate('openai', 'gpt-5.4', d_oa, input => 2.50, cached_input => 0.25, output => 15.00,
                     note => '[page]+[transcribed 2026-05-04] developers.openai.com/api/docs/pricing');
    -- long context: "2x on input beyond 272K, 1.5x on output" [secondary]
    -- (hivebook.wiki, 2026-04; tokenmix.ai says standard rates apply under 270K)
    PERFORM add_rate('openai', 'gpt-5.4', d_oa, input => 5.00, cached_input => 0.50, output => 22.50,
                     prompt_tokens_over => 272000,
                     note => '[secondary] long-context surcharge, hivebook.wiki 2026-04');
    PERFORM add_rate('openai', 'gpt-5.4-mini', d_oa, input => 0.75, cached_input => 0.075, output => 4.50,
                     note => '[page]+[transcribed 2026-05-04] developers.openai.com/api/docs/pricing');
    PERFORM add_rate('openai', 'gpt-5.4-nano', d_oa, input => 0.20, cached_input => 0.02, output => 1.25,
                     note => '[transcribed 2026-05-04] developers.openai.com/api/docs/pricing');
    -- [page] developers.openai.com/api/docs/models/gpt-5-nano and the GPT-5
    -- row of its gpt-5-codex page
    PERFORM add_rate('openai', 'gpt-5', '2025-08-07', input => 1.25, cached_input => 0.125, output => 10.00,
                     note => '[page] developers.openai.com/api/docs/models (gpt-5-codex comparison)');
    PERFORM add_rate('openai', 'gpt-5-nano', '2025-08-07', input => 0.05, cached_input => 0.005, output => 0.40,
                     note => '[page] developers.openai.com/api/docs/models/gpt-5-nano');
    PERFORM add_rate('openai', 'gpt-5-mini', '2025-08-07', input => 0.25, cached_input => 0.025, output => 2.00,
                     note => '[secondary] nicolalazzari.ai 2026; matches [memory]');
    PERFORM add_rate('openai', 'o3', '2025-06-10', input => 2.00, cached_input => 0.50, output => 8.00,
                     note => '[memory] openai.com/api/pricing after the June 2025 o3 price cut');
    PERFORM add_rate('openai', 'o4-mini', '2025-04-16', input => 1.10, cached_input => 0.275, output => 4.40,
                     note => '[memory] openai.com/api/pricing');
    PERFORM add_rate('openai', 'text-embedding-3-small', '2024-01-25', input => 0.02,
                     note => '[secondary] chatgptpricing pages.dev; matches [memory]');
    PERFORM add_rate('openai', 'text-embedding-3-large', '2024-01-25', input => 0.13,
                     note => '[secondary] chatgptpricing pages.dev; matches [memory]');
    -- gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini: 005_seed_rates.sql

    ------------------------------------------------------------- Anthropic
    -- [page] platform.claude.com/docs/about-claude/pricing (stored copy
    -- listing Opus 4.6 as newest): base input, 5-minute cache write,
    -- 1-hour cache write, cache hit, output. Model ids as the API names
    -- them; dated ids (claude-sonnet-4-5-20250929) fall back to these.
    PERFORM add_rate('anthropic', 'claude-opus-4-6', d_an, input => 5, cache_write => 6.25,
                     cache_write_1h => 10, cached_input => 0.50, output => 25,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    PERFORM add_rate('anthropic', 'claude-opus-4-5', d_an, input => 5, cache_write => 6.25,
                     cache_write_1h => 10, cached_input => 0.50, output => 25,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    PERFORM add_rate('anthropic', 'claude-opus-4-1', d_an, input => 15, cache_write => 18.75,
                     cache_write_1h => 30, cached_input => 1.50, output => 75,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    PERFORM add_rate('anthropic', 'claude-opus-4', d_an, input => 15, cache_write => 18.75,
                     cache_write_1h => 30, cached_input => 1.50, output => 75,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    PERFORM add_rate('anthropic', 'claude-sonnet-4-6', d_an, input => 3, cache_write => 3.75,
                     cache_write_1h => 6, cached_input => 0.30, output => 15,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    PERFORM add_rate('anthropic', 'claude-sonnet-4-5', d_an, input => 3, cache_write => 3.75,
                     cache_write_1h => 6, cached_input => 0.30, output => 15,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    PERFORM add_rate('anthropic', 'claude-sonnet-4', d_an, input => 3, cache_write => 3.75,
                     cache_write_1h => 6, cached_input => 0.30, output => 15,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    -- Sonnet 4 / 4.5 above 200K input tokens: $6 in, $22.50 out [page]
    -- docs.anthropic.com pricing (long context); the cache prices are the
    -- same multipliers of $6 (1.25x, 2x, 0.1x), derived, not read.
    PERFORM add_rate('anthropic', 'claude-sonnet-4-5', d_an, input => 6, cache_write => 7.50,
                     cache_write_1h => 12, cached_input => 0.60, output => 22.50,
                     prompt_tokens_over => 200000,
                     note => '[page] docs.anthropic.com long context pricing; cache prices derived');
    PERFORM add_rate('anthropic', 'claude-sonnet-4', d_an, input => 6, cache_write => 7.50,
                     cache_write_1h => 12, cached_input => 0.60, output => 22.50,
                     prompt_tokens_over => 200000,
                     note => '[page] docs.anthropic.com long context pricing; cache prices derived');
    PERFORM add_rate('anthropic', 'claude-haiku-4-5', d_an, input => 1, cache_write => 1.25,
                     cache_write_1h => 2, cached_input => 0.10, output => 5,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    PERFORM add_rate('anthropic', 'claude-3-5-haiku', d_an, input => 0.80, cache_write => 1,
                     cache_write_1h => 1.60, cached_input => 0.08, output => 4,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    PERFORM add_rate('anthropic', 'claude-3-haiku', d_an, input => 0.25, cache_write => 0.30,
                     cache_write_1h => 0.50, cached_input => 0.03, output => 1.25,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing');
    -- Opus 4.7 [transcribed 2026-05-22] api-evangelist/anthropic plans file
    PERFORM add_rate('anthropic', 'claude-opus-4-7', '2026-05-01', input => 5, cache_write => 6.25,
                     cache_write_1h => 10, cached_input => 0.50, output => 25,
                     note => '[transcribed 2026-05-22] platform.claude.com pricing via API Commons');
    -- Opus 5 [page] platform.claude.com pricing, newer stored copy; the
    -- model id follows the API's naming and is not checked
    PERFORM add_rate('anthropic', 'claude-opus-5', d_now, input => 5, cache_write => 6.25,
                     cache_write_1h => 10, cached_input => 0.50, output => 25,
                     note => '[page] platform.claude.com/docs/en/about-claude/pricing; id assumed');
    PERFORM add_model_alias('anthropic', 'claude-opus-4-0', 'claude-opus-4', 'API alias');
    PERFORM add_model_alias('anthropic', 'claude-sonnet-4-0', 'claude-sonnet-4', 'API alias');
    PERFORM add_model_alias('anthropic', 'claude-3-5-haiku-latest', 'claude-3-5-haiku', 'API alias');

    ---------------------------------------------------------------- Google
    -- [transcribed 2026-09-20] api-evangelist/gemini plans file, "every
    -- price_text found verbatim" on ai.google.dev/gemini-api/docs/pricing.
    -- Thinking tokens cost the output price (reasoning left NULL).
    -- Gemini 3.8 Flash has a dated change: $0.75 / $3.75 through
    -- 2026-12-31, $1.50 / $7.50 from 2027-01-01 (two rows).
    PERFORM add_rate('google', 'gemini-3.8-flash', '2026-09-20', input => 0.75, output => 3.75,
                     note => '[transcribed 2026-09-20] ai.google.dev/gemini-api/docs/pricing');
    PERFORM add_rate('google', 'gemini-3.8-flash', '2027-01-01', input => 1.50, output => 7.50,
                     note => '[transcribed 2026-09-20] ai.google.dev: price from 2027-01-01');
    PERFORM add_rate('google', 'gemini-3.5-flash', '2026-09-20', input => 1.50, output => 9.00,
                     note => '[transcribed 2026-09-20] ai.google.dev/gemini-api/docs/pricing');
    PERFORM add_rate('google', 'gemini-3.1-pro-preview', '2026-09-20', input => 2.00, output => 12.00,
                     note => '[transcribed 2026-09-20] ai.google.dev, prompts <= 200k tokens');
    PERFORM add_rate('google', 'gemini-3.1-pro-preview', '2026-09-20', input => 4.00, output => 18.00,
                     prompt_tokens_over => 200000,
                     note => '[transcribed 2026-09-20] ai.google.dev, prompts > 200k tokens');
    -- 2.5 Pro input [transcribed]; output and cache reads [memory]
    PERFORM add_rate('google', 'gemini-2.5-pro', '2025-06-17', input => 1.25, cached_input => 0.125,
                     output => 10.00,
                     note => '[transcribed 2026-09-20] input; output and cached [memory]');
    PERFORM add_rate('google', 'gemini-2.5-pro', '2025-06-17', input => 2.50, cached_input => 0.25,
                     output => 15.00, prompt_tokens_over => 200000,
                     note => '[transcribed 2026-09-20] input > 200k; output and cached [memory]');
    -- 2.5 Flash input $0.30 (text/image/video) and $1.00 audio [transcribed];
    -- output and cache reads [memory]
    PERFORM add_rate('google', 'gemini-2.5-flash', '2025-06-17', input => 0.30, cached_input => 0.03,
                     audio_input => 1.00, output => 2.50,
                     note => '[transcribed 2026-09-20] input, audio; output and cached [memory]');
    -- 2.5 Flash-Lite output $0.40 [transcribed]; input and cache [memory]
    PERFORM add_rate('google', 'gemini-2.5-flash-lite', '2025-07-22', input => 0.10, cached_input => 0.01,
                     output => 0.40,
                     note => '[transcribed 2026-09-20] output; input and cached [memory]');

    ------------------------------------------------------------------- xAI
    -- [page] docs.x.ai/developers/grok-4-7: $2.00 in, $6.00 out
    PERFORM add_rate('xai', 'grok-4.7', d_now, input => 2.00, output => 6.00,
                     note => '[page] docs.x.ai/developers/grok-4-7');
    PERFORM add_rate('xai', 'grok-4-1-fast', '2025-11-19', input => 0.20, cached_input => 0.05,
                     output => 0.50,
                     note => '[secondary] getmaxim.ai, wavespeed.ai; cached [memory]');
    PERFORM add_model_alias('xai', 'grok-4-1-fast-*', 'grok-4-1-fast', 'reasoning and non-reasoning');
    PERFORM add_rate('xai', 'grok-4', '2025-07-09', input => 3.00, cached_input => 0.75, output => 15.00,
                     note => '[secondary] skills.sh xai-models; cached [memory]');
    PERFORM add_model_alias('xai', 'grok-4-0709', 'grok-4', 'API id');

    -------------------------------------------------------------- DeepSeek
    -- [transcribed 2026-05-05] api-evangelist/deepseek plans file (a bulk
    -- sweep, not harvested from the page: treat as [secondary]) from
    -- api-docs.deepseek.com/quick_start/pricing. Cache hit = cached input.
    -- V4-Pro carried a 75 % promotion through 2026-05-31; the price after
    -- it is the promotion divided by 0.25, derived, not read.
    PERFORM add_rate('deepseek', 'deepseek-v4-flash', '2026-05-01', input => 0.14,
                     cached_input => 0.0028, output => 0.28,
                     note => '[secondary] API Commons 2026-05-05, api-docs.deepseek.com');
    PERFORM add_rate('deepseek', 'deepseek-v4-pro', '2026-05-01', input => 0.435,
                     cached_input => 0.003625, output => 0.87,
                     note => '[secondary] promotional price through 2026-05-31');
    PERFORM add_rate('deepseek', 'deepseek-v4-pro', '2026-06-01', input => 1.74,
                     cached_input => 0.0145, output => 3.48,
                     note => '[secondary] after the promotion: derived (promotion / 0.25)');
    PERFORM add_model_alias('deepseek', 'deepseek-chat', 'deepseek-v4-flash', 'deprecated alias');
    PERFORM add_model_alias('deepseek', 'deepseek-reasoner', 'deepseek-v4-pro', 'deprecated alias');

    --------------------------------------------------------------- Mistral
    -- [memory] mistral.ai/pricing (the stored copy of the page has no
    -- numbers); responses name dated models: mistral-large-2411 etc.
    PERFORM add_rate('mistral', 'mistral-large-latest', '2025-01-01', input => 2.00, output => 6.00,
                     note => '[memory] mistral.ai/pricing, Mistral Large 24.11');
    PERFORM add_rate('mistral', 'mistral-medium-latest', '2025-05-07', input => 0.40, output => 2.00,
                     note => '[memory] mistral.ai/pricing, Mistral Medium 3');
    PERFORM add_rate('mistral', 'mistral-small-latest', '2025-03-17', input => 0.10, output => 0.30,
                     note => '[memory] mistral.ai/pricing, Mistral Small 3.1; deploybase.ai agrees');
    PERFORM add_model_alias('mistral', 'mistral-large-*', 'mistral-large-latest', 'dated ids');
    PERFORM add_model_alias('mistral', 'mistral-medium-*', 'mistral-medium-latest', 'dated ids');
    PERFORM add_model_alias('mistral', 'mistral-small-*', 'mistral-small-latest', 'dated ids');

    ---------------------------------------------------------------- Cohere
    -- [transcribed 2026-05-04] api-evangelist/cohere plans file (bulk
    -- sweep: [secondary]) from cohere.com/pricing; Command A [memory]
    PERFORM add_rate('cohere', 'command-a-03-2025', '2025-03-13', input => 2.50, output => 10.00,
                     note => '[memory] cohere.com/pricing');
    PERFORM add_rate('cohere', 'command-r-plus-08-2024', '2024-08-30', input => 2.50, output => 10.00,
                     note => '[secondary] API Commons 2026-05-04, cohere.com/pricing');
    PERFORM add_rate('cohere', 'command-r-08-2024', '2024-08-30', input => 0.15, output => 0.60,
                     note => '[memory] cohere.com/pricing');
    PERFORM add_rate('cohere', 'command-r7b-12-2024', '2024-12-13', input => 0.0375, output => 0.15,
                     note => '[memory] cohere.com/pricing');

    ------------------------------------------------- hosts of open models
    -- [memory] unless marked: each host's pricing page as remembered.
    PERFORM add_rate('groq', 'llama-3.3-70b-versatile', '2025-01-01', input => 0.59, output => 0.79,
                     note => '[secondary] tier_maker.py (huggingface) 2025; matches [memory] groq.com/pricing');
    PERFORM add_rate('groq', 'llama-3.1-8b-instant', '2025-01-01', input => 0.05, output => 0.08,
                     note => '[memory] groq.com/pricing');
    PERFORM add_rate('groq', 'openai/gpt-oss-120b', '2025-08-05', input => 0.15, output => 0.75,
                     note => '[memory] groq.com/pricing');
    PERFORM add_rate('groq', 'openai/gpt-oss-20b', '2025-08-05', input => 0.10, output => 0.50,
                     note => '[memory] groq.com/pricing');
    PERFORM add_rate('groq', 'whisper-large-v3', '2025-01-01', per_hour => 0.111,
                     note => '[memory] groq.com/pricing, $0.111 per hour of audio');
    PERFORM add_rate('together', 'meta-llama/Llama-3.3-70B-Instruct-Turbo', '2025-01-01',
                     input => 0.88, output => 0.88, note => '[memory] together.ai/pricing');
    PERFORM add_rate('together', 'deepseek-ai/DeepSeek-V3', '2025-01-01',
                     input => 1.25, output => 1.25, note => '[memory] together.ai/pricing');
    PERFORM add_rate('fireworks', 'accounts/fireworks/models/llama-v3p3-70b-instruct', '2025-01-01',
                     input => 0.90, output => 0.90, note => '[memory] fireworks.ai/pricing');
    PERFORM add_rate('deepinfra', 'meta-llama/Llama-3.3-70B-Instruct', '2025-01-01',
                     input => 0.23, output => 0.40, note => '[memory] deepinfra.com/pricing');
    PERFORM add_rate('hyperbolic', 'meta-llama/Llama-3.3-70B-Instruct', '2025-01-01',
                     input => 0.40, output => 0.40, note => '[memory] hyperbolic.xyz pricing');
    PERFORM add_rate('cerebras', 'llama-3.3-70b', '2025-01-01', input => 0.85, output => 1.20,
                     note => '[memory] cerebras.ai/pricing');
    PERFORM add_rate('cerebras', 'llama3.1-8b', '2025-01-01', input => 0.10, output => 0.10,
                     note => '[memory] cerebras.ai/pricing');
    PERFORM add_rate('sambanova', 'Meta-Llama-3.3-70B-Instruct', '2025-01-01',
                     input => 0.60, output => 1.20, note => '[memory] cloud.sambanova.ai pricing');
    PERFORM add_rate('nebius', 'meta-llama/Llama-3.3-70B-Instruct', '2025-01-01',
                     input => 0.13, output => 0.40, note => '[memory] studio.nebius.com pricing');

    ---------------------------------------------------------------- Vercel
    -- AI Gateway bills the provider's list price without markup [memory];
    -- these rows copy the provider rows above for its provider/model ids.
    PERFORM add_rate('vercel', 'openai/gpt-5.4', d_oa, input => 2.50, cached_input => 0.25,
                     output => 15.00, note => '[memory] no markup: OpenAI list price');
    PERFORM add_rate('vercel', 'openai/gpt-5.4-mini', d_oa, input => 0.75, cached_input => 0.075,
                     output => 4.50, note => '[memory] no markup: OpenAI list price');
    PERFORM add_rate('vercel', 'anthropic/claude-sonnet-4.6', d_an, input => 3, cache_write => 3.75,
                     cache_write_1h => 6, cached_input => 0.30, output => 15,
                     note => '[memory] no markup: Anthropic list price');
    PERFORM add_rate('vercel', 'google/gemini-2.5-flash', '2025-06-17', input => 0.30,
                     cached_input => 0.03, output => 2.50,
                     note => '[memory] no markup: Google list price');

    ---------------------------------------------------------- voice, audio
    -- ElevenLabs: text to speech per character, speech to text per hour
    -- [memory] elevenlabs.io/pricing/api (the stored copy shows the credit
    -- plans only).
    PERFORM add_rate('elevenlabs', 'eleven_multilingual_v2', '2025-01-01', per_1m_characters => 100,
                     note => '[memory] $0.10 per 1K characters');
    PERFORM add_rate('elevenlabs', 'eleven_flash_v2_5', '2025-01-01', per_1m_characters => 50,
                     note => '[memory] $0.05 per 1K characters');
    PERFORM add_rate('elevenlabs', 'eleven_turbo_v2_5', '2025-01-01', per_1m_characters => 50,
                     note => '[memory] $0.05 per 1K characters');
    PERFORM add_rate('elevenlabs', 'scribe_v1', '2025-03-01', per_hour => 0.40,
                     note => '[memory] $0.40 per hour of audio');
    -- Retell: voice calls per minute of call, any model [memory]
    PERFORM add_rate('retell', '*', '2025-01-01', per_minute => 0.07,
                     note => '[memory] retellai.com/pricing, voice engine from $0.07 per minute');
END $$;
