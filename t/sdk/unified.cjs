// Drives real, unmodified SDKs through the gateway for t/93-sdk-unified.t.
// Usage: node unified.cjs <case>; settings from the environment:
//   LAVA_GW     the gateway's base URL (http://127.0.0.1:PORT)
//   LAVA_TOKEN  a forward token; LAVA_SECRET a merchant secret key
//   LAVA_CUSTOMER, LAVA_METER  for @lavapayments/nodejs gateway()
//   LAVA_HEADERS  JSON object of extra request headers (the mock's hooks)
// Prints one JSON object: what the SDK returned, the gateway's request id.
'use strict';

const OpenAI = require('openai').default;
const Anthropic = require('@anthropic-ai/sdk').default;
const { Lava } = require('@lavapayments/nodejs');

const gw = process.env.LAVA_GW;
const headers = JSON.parse(process.env.LAVA_HEADERS || '{}');

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

const cases = {
  // openai SDK, baseURL <gateway>/v1, a model of another provider
  async chat() {
    const client = new OpenAI({ apiKey: process.env.LAVA_TOKEN, baseURL: `${gw}/v1`,
                                defaultHeaders: headers, maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({
      model: 'anthropic/claude-sonnet-4-5',
      max_tokens: 200,
      messages: [{ role: 'system', content: 'Use the tools.' },
                 { role: 'user', content: 'What is the weather in Paris?' }],
      tools: [weather],
    }).withResponse();
    return { rid: response.headers.get('x-lava-request-id'), completion: data };
  },

  async stream() {
    const client = new OpenAI({ apiKey: process.env.LAVA_TOKEN, baseURL: `${gw}/v1`,
                                defaultHeaders: headers, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({
      model: 'anthropic/claude-sonnet-4-5',
      max_tokens: 200,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [weather],
    }).withResponse();
    let text = '';
    const calls = {};
    let finish = null;
    let usage = null;
    let chunks = 0;
    let model = null;
    for await (const chunk of stream) {
      chunks++;
      model = chunk.model;
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices || []) {
        if (c.delta && c.delta.content) text += c.delta.content;
        for (const tc of (c.delta && c.delta.tool_calls) || []) {
          const call = calls[tc.index] || (calls[tc.index] = { id: null, name: '', arguments: '' });
          if (tc.id) call.id = tc.id;
          if (tc.function && tc.function.name) call.name += tc.function.name;
          if (tc.function && tc.function.arguments) call.arguments += tc.function.arguments;
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    return { rid: response.headers.get('x-lava-request-id'), text, calls: Object.values(calls),
             finish, usage, chunks, model };
  },

  // the Anthropic SDK, baseURL <gateway>, a model of OpenAI: POST /v1/messages
  async messages() {
    const client = new Anthropic({ apiKey: process.env.LAVA_TOKEN, baseURL: gw,
                                   defaultHeaders: headers, maxRetries: 0 });
    const { data, response } = await client.messages.create({
      model: 'openai/gpt-4o-mini',
      max_tokens: 100,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello there' }],
    }).withResponse();
    return { rid: response.headers.get('x-lava-request-id'), message: data };
  },

  async messages_stream() {
    const client = new Anthropic({ apiKey: process.env.LAVA_TOKEN, baseURL: gw,
                                   defaultHeaders: headers, maxRetries: 0 });
    const stream = client.messages.stream({
      model: 'openai/gpt-4o-mini',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hello there' }],
    });
    const types = [];
    stream.on('streamEvent', (ev) => types.push(ev.type));
    const message = await stream.finalMessage();
    return { types, message };
  },

  // @lavapayments/nodejs: gateway(url, {format: 'openai'})
  async gateway() {
    const lava = new Lava(process.env.LAVA_SECRET, { baseUrl: `${gw}/v1/` });
    const out = await lava.gateway('https://api.anthropic.com/v1/messages', {
      format: 'openai',
      customer_id: process.env.LAVA_CUSTOMER,
      meter_slug: process.env.LAVA_METER,
      headers,
      body: { model: 'claude-sonnet-4-5', max_tokens: 100,
              messages: [{ role: 'user', content: 'Hello there' }] },
    });
    return { completion: out };
  },

  async models() {
    const lava = new Lava(process.env.LAVA_SECRET, { baseUrl: `${gw}/v1/` });
    return { list: await lava.models.list() };
  },

  // an error of the provider in the SDK's own error type
  async error() {
    const client = new OpenAI({ apiKey: process.env.LAVA_TOKEN, baseURL: `${gw}/v1`,
                                defaultHeaders: headers, maxRetries: 0 });
    try {
      await client.chat.completions.create({
        model: 'anthropic/claude-sonnet-4-5', max_tokens: 10,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      return { error: null };
    } catch (e) {
      return { error: { status: e.status, type: e.type || (e.error && e.error.type) || null,
                        message: e.message, api: e instanceof OpenAI.APIError } };
    }
  },
};

(async () => {
  const name = process.argv[2];
  if (!cases[name]) throw new Error(`no case ${name}`);
  process.stdout.write(JSON.stringify(await cases[name]()) + '\n');
})().catch((e) => {
  process.stdout.write(JSON.stringify({ failed: String(e && e.stack || e) }) + '\n');
  process.exit(1);
});
