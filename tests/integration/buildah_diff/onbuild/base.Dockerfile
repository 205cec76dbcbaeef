FROM localhost/busybox:latest
ONBUILD RUN echo from-trigger > /triggered
ONBUILD COPY f /copied-by-trigger
CMD ["sh"]
