-- Seed provider list prices, USD per 1M tokens (input, cached input, output).
-- Source: OpenAI API pricing page, https://openai.com/api/pricing (standard
-- tier), prices as published 2025-04 (after the GPT-4.1 launch). Check them
-- against the page before relying on them; a price change is a new
-- set_rate() row with its own effective_from, never an edit.
--
-- effective_from 2025-01-01: requests older than that have no rate and are
-- booked as unpriced, never at zero.
--
-- gpt-4o-mini is also the model the bundled mock provider answers with.

DO $$
BEGIN
    PERFORM set_rate('openai', 'gpt-4o',       2.50, 1.25,  10.00, '2025-01-01T00:00:00Z',
                    'openai.com/api/pricing, 2025-04');
    PERFORM set_rate('openai', 'gpt-4o-mini',  0.15, 0.075,  0.60, '2025-01-01T00:00:00Z',
                    'openai.com/api/pricing, 2025-04');
    PERFORM set_rate('openai', 'gpt-4.1',      2.00, 0.50,   8.00, '2025-01-01T00:00:00Z',
                    'openai.com/api/pricing, 2025-04');
    PERFORM set_rate('openai', 'gpt-4.1-mini', 0.40, 0.10,   1.60, '2025-01-01T00:00:00Z',
                    'openai.com/api/pricing, 2025-04');
END $$;
