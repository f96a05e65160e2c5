// A Camunda 7 external-task worker written with the real camunda-external-task-client-js,
// as its users write one. Usage: node worker.mjs CLIENT_DIR BASE_URL USER PASSWORD
// The instance's variable "mode" picks what the handler does with each task of "charge".
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [clientDir, baseUrl, username, password] = process.argv.slice(2);
const entry = join(clientDir, "node_modules", "camunda-external-task-client-js", "index.js");
const { Client, BasicAuthInterceptor, Variables, logger } = await import(pathToFileURL(entry));

const client = new Client({
  baseUrl,
  workerId: "js-worker-1",
  interval: 50,
  asyncResponseTimeout: 1000,
  lockDuration: 15000,
  interceptors: new BasicAuthInterceptor({ username, password }),
  use: logger,
});

client.subscribe("charge", { localVariables: false }, async ({ task, taskService }) => {
  const mode = task.variables.get("mode");
  if (mode === "fail") {
    await taskService.handleFailure(task, {
      errorMessage: "card declined",
      errorDetails: "stack",
      retries: 0,
      retryTimeout: 0,
    });
    return;
  }
  if (mode === "error") {
    const why = new Variables().set("why", "none");
    await taskService.handleBpmnError(task, "OUT_OF_STOCK", "no stock", why);
    return;
  }
  if (mode === "relock") {
    await taskService.extendLock(task, 5000);
    await taskService.unlock(task);
    await taskService.lock(task, 5000);
  }
  const amount = task.variables.get("amount");
  const customer = task.variables.get("customer");
  const variables = new Variables()
    .set("charged", true)
    .set("doubled", amount * 2)
    .set("big", 3000000000)
    .set("ratio", 0.5)
    .set("customerName", customer ? customer.name : null)
    .set("receipt", { no: 7, items: [1, 2] })
    .setTyped("when", { type: "date", value: new Date(0), valueInfo: {} });
  const local = new Variables().set("loc", "yes");
  await taskService.complete(task, variables, local);
});

process.on("SIGTERM", () => {
  client.stop();
  process.exit(0);
});
