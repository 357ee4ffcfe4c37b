package io.peregrine.server.app;

import io.peregrine.server.http.AuthGate;
import io.peregrine.server.http.BodyLimit;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.http.RequestDeadline;
import io.peregrine.server.http.UnsupportedFields;
import io.peregrine.server.http.WriteStallGuard;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.EventExecutor;
import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.api.completions.CompletionRequest;
import io.peregrine.server.anthropic.MessagesFields;
import io.peregrine.server.anthropic.MessagesHandler;
import io.peregrine.server.anthropic.MessagesRequestMapper;
import io.peregrine.server.chat.ChatHandler;
import io.peregrine.server.chat.ChatRequestMapper;
import io.peregrine.server.chat.PlanBuilder;
import io.peregrine.server.completions.CompletionsHandler;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.tracing.Tracing;
import io.peregrine.server.webui.WebUi;
import io.peregrine.server.responses.ResponseStore;
import io.peregrine.server.responses.ResponsesHandler;
import io.peregrine.server.responses.ResponsesRequestMapper;
import io.peregrine.server.sampling.SamplingResolver;
import io.peregrine.server.serving.EndpointContext;
import io.peregrine.server.serving.ServingState;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/** The Netty server: one acceptor thread, a small I/O group, virtual threads for request work. */
public final class HttpServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(HttpServer.class.getName());

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService requestThreads;
    private final Channel channel;

    private HttpServer(EventLoopGroup boss, EventLoopGroup workers, ExecutorService requestThreads, Channel channel) {
        this.boss = boss;
        this.workers = workers;
        this.requestThreads = requestThreads;
        this.channel = channel;
    }

    /** With the chat page and without tracing. */
    public static HttpServer start(ServerConfig config, ServingState state, ServerMetrics metrics)
            throws InterruptedException {
        return start(config, state, metrics, WebUi.fromResources(), Tracing.off());
    }

    /**
     * @param webUi   the chat page at {@code /} ({@link WebUi#off()}: {@code --no-web-ui})
     * @param tracing request spans ({@link Tracing#off()}: none)
     */
    public static HttpServer start(ServerConfig config, ServingState state, ServerMetrics metrics, WebUi webUi,
                                   Tracing tracing) throws InterruptedException {
        JsonBodies bodies = new JsonBodies(JsonBodies.requestMapper(config.maxBodyBytes()), config.rejectUnknownFields(),
                Map.of(ChatCompletionRequest.class, UnsupportedFields.CHAT_FIELDS,
                        CompletionRequest.class, UnsupportedFields.COMPLETIONS_FIELDS,
                        MessagesRequest.class, MessagesFields.RECOGNISED));
        SamplingResolver sampling = new SamplingResolver(config.samplingPolicy());
        EndpointContext endpoint = new EndpointContext(state, bodies, metrics, config.sseKeepAlive().toNanos());
        PlanBuilder plans = new PlanBuilder(sampling, config.mediaLimits());
        ChatRequestMapper chatMapper = new ChatRequestMapper(plans);
        ChatHandler chat = new ChatHandler(endpoint, chatMapper, config.reasoningField());
        CompletionsHandler completions = new CompletionsHandler(endpoint, sampling);
        TokenizeHandler tokenize = new TokenizeHandler(endpoint, plans, chatMapper);
        ResponseStore store = new ResponseStore(config.responsesStoreSize());
        ResponsesHandler responses = new ResponsesHandler(endpoint,
                new ResponsesRequestMapper(plans, bodies.mapper(), store), store);
        MessagesHandler messages = new MessagesHandler(endpoint, new MessagesRequestMapper(plans));
        ExecutorService requestThreads = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("peregrine-request-", 0).factory());
        ApiHandler api = new ApiHandler(state, config.apiKeys(), bodies, chat, completions, tokenize, responses, messages,
                metrics, requestThreads, config.cors(), webUi, tracing);
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(
                Math.max(2, Runtime.getRuntime().availableProcessors() / 2), NioIoHandler.newFactory());
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                // A client may half-close after its request (nc -N, probes, some proxies): it still gets its answer.
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 << 10, 256 << 10))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        RequestDeadline deadline = new RequestDeadline(config.requestReadTimeout());
                        ch.pipeline()
                                .addLast(new IdleStateHandler(0, 0, config.idleConnectionTimeout().toNanos(),
                                        TimeUnit.NANOSECONDS))
                                .addLast(deadline.idleCloser())
                                .addLast(new WriteStallGuard(config.writeStallTimeout()))
                                .addLast(deadline.bytesIn())
                                .addLast(new HttpServerCodec())
                                .addLast(deadline.requestsOut())
                                .addLast(new AuthGate(config.apiKeys(), config.cors(), webUi::serves))
                                .addLast(new BodyLimit(config.maxBodyBytes()))
                                .addLast(api);
                    }
                });
        try {
            Channel ch = b.bind(config.host(), config.port()).sync().channel();
            return new HttpServer(boss, workers, requestThreads, ch);
        } catch (RuntimeException | InterruptedException e) {
            boss.shutdownGracefully();
            workers.shutdownGracefully();
            requestThreads.shutdownNow();
            throw e;
        }
    }


    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    /** Stops accepting connections (in-flight responses continue until {@link #close}). */
    public void stopAccepting() {
        channel.close().syncUninterruptibly();
    }

    /** Idempotent: the shutdown sequence closes the server, and its owner may close it again afterwards. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return; // a second close would hand work to event loops that have terminated
        }
        channel.close().syncUninterruptibly();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        finishQueuedWrites(TimeUnit.SECONDS.toNanos(2));
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        requestThreads.shutdownNow();
    }

    /**
     * A drained request's last events (final chunk, usage, {@code [DONE]}) were handed to its connection's event
     * loop as tasks before the engine counted the request finished. A Netty event loop that shuts down closes its
     * channels before it runs its remaining tasks, so without this barrier SIGTERM could cut the tail off a stream
     * it had let run to the end. One empty task per loop, awaited: everything queued before it has run.
     */
    private void finishQueuedWrites(long timeoutNanos) {
        long end = System.nanoTime() + timeoutNanos;
        for (EventExecutor loop : workers) {
            long left = end - System.nanoTime();
            if (left <= 0 || !loop.submit(() -> { }).awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
                LOG.warning("closing with writes still queued on " + loop);
                return;
            }
        }
    }
}
