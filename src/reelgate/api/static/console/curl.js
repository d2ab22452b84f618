// The task's request as sent (native shape) and as curl commands in each dialect.
const NAMES = {
  "1280x720": ["16:9", "1280:720", "1280x720"], "720x1280": ["9:16", "720:1280", "720x1280"],
  "960x960": ["1:1", "960:960", null], "1104x832": ["4:3", "1104:832", null],
  "832x1104": ["3:4", "832:1104", null], "1584x672": ["21:9", "1584:672", null],
  "1792x1024": [null, null, "1792x1024"], "1024x1792": [null, null, "1024x1792"],
};

export function requestAsSent(task) {
  const [ratio] = NAMES[`${task.width}x${task.height}`] || [`${task.width}x${task.height}`];
  return {
    prompt: task.prompt, model: task.model, ratio: ratio || `${task.width}x${task.height}`,
    seconds: task.seconds, style: task.style, seed: task.seed, motion: task.motion,
  };
}

// Single quotes for the shell: a quote inside is closed, escaped and reopened.
const quote = (text) => `'${text.replace(/'/g, "'\\''")}'`;

function curl(base, path, body, extra = []) {
  return [
    `curl -sS ${quote(base + path)}`,
    `  -H "Authorization: Bearer $REELGATE_API_KEY"`,
    ...extra.map((header) => `  -H ${quote(header)}`),
    `  -H 'Content-Type: application/json'`,
    `  -d ${quote(JSON.stringify(body))}`,
  ].join(" \\\n");
}

export function curlCommands(task, base) {
  const [comet, runway, openai] = NAMES[`${task.width}x${task.height}`] || [];
  const sent = requestAsSent(task);
  const commands = { reelgate: curl(base, "/admin/tasks", sent) };
  if (comet) {
    commands.CometAPI = curl(base, "/runway/pro/generate", {
      prompt: task.prompt, model: task.model, ratio: comet, style: task.style, seed: task.seed,
      callback_url: "https://example.com/hook",
      options: { seconds: task.seconds, motion_vector: task.motion },
    });
  }
  if (runway) {
    commands.Runway = curl(base, "/v1/text_to_video", {
      model: task.model, promptText: task.prompt, ratio: runway,
      duration: Math.min(10, Math.max(2, task.seconds)), seed: task.seed,
    }, ["X-Runway-Version: 2024-11-06"]);
  }
  if (openai) {
    commands.OpenAI = curl(base, "/v1/videos", {
      // OpenAI's lengths are 4, 8 or 12 seconds: the nearest one.
      model: task.model, prompt: task.prompt, size: openai,
      seconds: String([4, 8, 12].reduce((a, b) => (Math.abs(b - task.seconds) < Math.abs(a - task.seconds) ? b : a))),
    });
  }
  return commands;
}
